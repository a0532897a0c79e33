// The call simulator: each action is posted to the console, which signs it and sends it to /voice.
// The simulated call's state (its sid and pending action URLs) lives here, in the page. Like Twilio,
// a message that goes straight on moves on by itself once its seconds of silence have passed.
(function () {
  "use strict";
  const root = document.getElementById("sim");
  const api = root.dataset.api;
  const csrf = root.dataset.csrf;
  const statusLine = document.getElementById("sim-status");
  const transcript = document.getElementById("transcript");
  const player = document.getElementById("player");
  const sound = document.getElementById("sound");
  const callBtn = document.getElementById("call-btn");
  const hangupBtn = document.getElementById("hangup-btn");
  const silenceBtn = document.getElementById("silence-btn");
  const outcomes = document.getElementById("dial-outcomes");
  const keys = Array.from(document.querySelectorAll(".key"));
  const speakForm = document.getElementById("speak-form");
  const speakWords = document.getElementById("speak-words");
  const speakBtn = document.getElementById("speak-btn");
  const speakHints = document.getElementById("speak-hints");
  let call = null;
  let queue = [];
  let afterQueue = null; // what to do once everything in the queue has been heard
  let clock = null; // the countdown of a message that moves on by itself
  let started = 0;

  function setState() {
    const waitingKey = Boolean(call && call.gather);
    keys.forEach((k) => { k.disabled = !waitingKey; });
    silenceBtn.disabled = !waitingKey;
    const listens = Boolean(waitingKey && call.speech);
    speakWords.disabled = !listens;
    speakBtn.disabled = !listens;
    speakHints.textContent = listens && call.hints ? "The line listens for: " + call.hints : "";
    outcomes.disabled = !(call && call.dial);
    hangupBtn.disabled = !call;
    callBtn.disabled = Boolean(call);
  }

  // A button that was just used may now be disabled: keyboard users must not be left on nothing.
  function keepFocus() {
    const active = document.activeElement;
    if (active && active !== document.body && !active.disabled && !active.closest("fieldset:disabled")) { return; }
    let target = callBtn;
    if (call && call.dial) { target = outcomes.querySelector("button"); } else if (call && call.gather) { target = keys[0]; }
    if (target && !target.disabled) { target.focus(); }
  }

  function stopClock() {
    if (clock) { window.clearInterval(clock); clock = null; }
    document.querySelectorAll(".countdown").forEach((c) => { c.textContent = ""; });
  }

  function stopSound() {
    queue = [];
    afterQueue = null;
    stopClock();
    player.onended = null;
    player.onerror = null;
    player.pause();
    if (window.speechSynthesis) { window.speechSynthesis.cancel(); }
  }

  function playNext() {
    const item = queue.shift();
    if (!item || !sound.checked) {
      queue = [];
      const then = afterQueue;
      afterQueue = null;
      if (then) { then(); }
      return;
    }
    if (item.kind === "play") {
      player.src = item.url;
      player.onended = playNext;
      player.onerror = playNext;
      player.play().catch(playNext);
    } else if (item.kind === "say" && window.speechSynthesis && window.speechSynthesis.getVoices().length) {
      const utterance = new SpeechSynthesisUtterance(item.text);
      utterance.lang = item.lang || document.documentElement.lang;
      utterance.onend = playNext;
      utterance.onerror = playNext;
      window.speechSynthesis.speak(utterance);
    } else if (item.kind === "pause") {
      window.setTimeout(playNext, item.seconds * 1000);
    } else {
      playNext();
    }
  }

  // Twilio's timeout: the seconds of silence start once the prompts have been heard.
  function startClock(wait, shown) {
    stopClock();
    let left = wait.seconds;
    shown.textContent = " Moving on in " + left + " s.";
    clock = window.setInterval(() => {
      left -= 1;
      if (left > 0) { shown.textContent = " Moving on in " + left + " s."; return; }
      stopClock();
      send(wait.seconds + " s of silence: the call moves on", { action: "silence" });
    }, 1000);
  }

  function item(list, className, text) {
    const li = document.createElement("li");
    li.className = className;
    if (text) { li.textContent = text; }
    list.appendChild(li);
    return li;
  }

  function recording(list, part) {
    const li = item(list, "play");
    const play = document.createElement("button");
    play.type = "button";
    play.textContent = "Play";
    play.setAttribute("aria-label", "Play the recording of " + (part.prompt_id || part.url));
    play.addEventListener("click", () => {
      player.src = part.url;
      player.onended = playNext; // then on with whatever the call still has to say
      player.onerror = playNext;
      player.play().catch(() => {});
    });
    li.appendChild(play);
    if (part.prompt_id) {
      const pid = document.createElement("span");
      pid.className = "pid";
      pid.textContent = part.prompt_id;
      li.appendChild(pid);
      li.appendChild(document.createTextNode(" (recording" + (part.slow ? ", slower speech" : "") + "): "));
      const words = document.createElement("q");
      words.lang = part.lang;
      words.textContent = part.text || "(no text for it in the flow)";
      li.appendChild(words);
    } else {
      li.appendChild(document.createTextNode("Plays a recording"));
    }
    const file = document.createElement("span");
    file.className = "file";
    file.textContent = new URL(part.url, window.location.href).pathname;
    li.appendChild(file);
  }

  function addTurn(label, turn) {
    const li = document.createElement("li");
    li.className = "turn";
    const h = document.createElement("h3");
    h.textContent = label;
    li.appendChild(h);
    const heard = document.createElement("ul");
    heard.className = "heard";
    // What the caller hears, in the order they hear it: spoken texts (in their language), recordings, pauses.
    (turn.parts || []).forEach((part) => {
      if (part.kind === "say") {
        const said = item(heard, "say", part.text);
        if (part.lang) { said.lang = part.lang; }
      } else if (part.kind === "play") {
        recording(heard, part);
      } else if (part.kind === "pause") {
        item(heard, "silence", "Silence: " + part.seconds + " s (a pause).");
      }
    });
    let countdown = null;
    if (turn.dial_number) {
      item(heard, "dial", "Transfers the call to " + turn.dial_number);
      item(heard, "ringing", "The caller hears ringing, for up to " + turn.ringing + " s.");
    }
    if (turn.wait) {
      const wait = item(heard, "silence wait",
        "Silence: the line waits for a key; " + turn.wait.words + ".");
      countdown = document.createElement("span");
      countdown.className = "countdown";
      wait.appendChild(countdown);
    }
    if (turn.ended) { item(heard, "ended", "The call ends."); }
    li.appendChild(heard);
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "TwiML from " + turn.request + " (HTTP " + turn.status + ")";
    const pre = document.createElement("pre");
    pre.className = "twiml";
    pre.textContent = turn.twiml;
    details.appendChild(summary);
    details.appendChild(pre);
    li.appendChild(details);
    transcript.appendChild(li);
    li.scrollIntoView({ block: "nearest" });
    return countdown;
  }

  async function post(body) {
    const response = await fetch(api, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "X-Requested-With": "fetch" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let answer = null;
    try { answer = await response.json(); } catch (error) { answer = null; }
    if (!response.ok) { throw new Error((answer && answer.message) || "HTTP " + response.status); }
    return answer;
  }

  // One step at a time, in the order they were asked for, as a phone line takes keys: a key pressed while
  // the previous answer is on its way is sent after it, with the state that answer leaves.
  let steps = Promise.resolve();

  function send(label, body) {
    stopSound();
    steps = steps.then(() => step(label, body)).catch((error) => {
      statusLine.textContent = "The step failed: " + error.message;
    });
    return steps;
  }

  async function step(label, body) {
    stopSound();
    if (body.action !== "start" && !call) { return; } // hung up meanwhile
    if (call) { body.sid = call.sid; body.gather = call.gather; body.dial = call.dial; }
    if ((body.action === "press" || body.action === "silence" || body.action === "speak") && !call.gather) { return; }
    if (body.action === "dial" && !call.dial) { return; }
    let turn;
    try {
      turn = await post(body);
    } catch (error) {
      statusLine.textContent = "The step failed: " + error.message;
      return;
    }
    // Answers that only redirect were followed at once, as Twilio follows them: each is a step too.
    const answers = (turn.followed || []).concat([turn]);
    let countdown = null;
    answers.forEach((answer, n) => {
      countdown = addTurn(n === 0 ? label : "Twilio follows the redirect", answer);
    });
    if (body.action === "start") { started = Date.now(); }
    if (turn.ended) {
      sendStatus(turn.sid);
      call = null;
      statusLine.textContent = "The call has ended.";
    } else {
      call = { sid: turn.sid, gather: turn.gather, dial: turn.dial, speech: turn.speech, hints: turn.hints };
      if (turn.dial) {
        statusLine.textContent = "Transferring to " + turn.dial_number + ": choose how the transfer ends.";
      } else if (turn.wait && turn.wait.moves_on) {
        statusLine.textContent = "At " + turn.node + ": it moves on by itself after " + turn.wait.seconds
          + " s of silence; press a key to answer sooner.";
      } else {
        statusLine.textContent = "At " + turn.node + ": press a key, or stay silent.";
      }
    }
    setState();
    keepFocus();
    // Play in the documents' order, then let the seconds of silence run where the call moves on by itself.
    queue = answers.flatMap((answer) => answer.parts || []);
    if (call && turn.wait && turn.wait.moves_on && countdown) {
      const wait = turn.wait;
      afterQueue = () => startClock(wait, countdown);
    }
    playNext();
  }

  function sendStatus(sid) {
    // Twilio's status callback at the end of a call: the journey records how it ended.
    const seconds = Math.round((Date.now() - started) / 1000);
    post({ action: "hangup", sid: sid, seconds: seconds }).catch(() => {});
  }

  callBtn.addEventListener("click", () => {
    transcript.textContent = "";
    call = null;
    send("The call starts", { action: "start" });
  });
  hangupBtn.addEventListener("click", () => {
    stopSound();
    if (call) { sendStatus(call.sid); }
    call = null;
    statusLine.textContent = "You hung up.";
    setState();
    keepFocus();
  });
  keys.forEach((k) => k.addEventListener("click", () => {
    send("You pressed " + k.dataset.key, { action: "press", key: k.dataset.key });
  }));
  silenceBtn.addEventListener("click", () => send("You stayed silent", { action: "silence" }));
  speakForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const words = speakWords.value.trim();
    if (!words) { return; }
    speakWords.value = "";
    send("You said “" + words + "”", { action: "speak", words: words });
  });
  document.querySelectorAll(".outcome").forEach((b) => b.addEventListener("click", () => {
    send("The transfer was " + b.dataset.outcome, { action: "dial", outcome: b.dataset.outcome });
  }));
  document.addEventListener("keydown", (event) => {
    if (!call || !call.gather || event.target.closest("input, select, textarea")) { return; }
    if (event.ctrlKey || event.altKey || event.metaKey) { return; }
    const key = keys.find((k) => k.dataset.key === event.key);
    if (key) { event.preventDefault(); key.click(); }
  });
  setState();
})();
