// The call simulator: each action is posted to the console, which signs it and sends it to /voice.
// The simulated call's state (its sid and pending action URLs) lives here, in the page.
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

  function stopSound() {
    queue = [];
    player.pause();
    if (window.speechSynthesis) { window.speechSynthesis.cancel(); }
  }

  function playNext() {
    const item = queue.shift();
    if (!item || !sound.checked) { return; }
    if (item.url) {
      player.src = item.url;
      player.onended = playNext;
      player.play().catch(playNext);
    } else if (window.speechSynthesis && window.speechSynthesis.getVoices().length) {
      const utterance = new SpeechSynthesisUtterance(item.text);
      utterance.lang = item.lang || document.documentElement.lang;
      utterance.onend = playNext;
      window.speechSynthesis.speak(utterance);
    } else {
      playNext();
    }
  }

  function spoken(twiml) {
    const doc = new DOMParser().parseFromString(twiml, "text/xml");
    return Array.from(doc.querySelectorAll("Say, Play")).map((el) => (el.tagName === "Play"
      ? { url: el.textContent.trim() }
      : { text: el.textContent.trim(), lang: el.getAttribute("language") || "" }));
  }

  function addTurn(label, turn) {
    const li = document.createElement("li");
    li.className = "turn";
    const h = document.createElement("h3");
    h.textContent = label;
    li.appendChild(h);
    const heard = document.createElement("ul");
    heard.className = "heard";
    // What the caller hears, in the order they hear it: spoken texts (in their language) and recordings.
    const langs = spoken(turn.twiml).filter((part) => !part.url).map((part) => part.lang);
    const heardInOrder = turn.heard && turn.heard.length ? turn.heard
      : turn.says.map((text) => ["say", text]).concat(turn.plays.map((url) => ["play", url]));
    let said = 0;
    heardInOrder.forEach(([kind, value]) => {
      const item = document.createElement("li");
      item.className = kind;
      if (kind === "say") {
        if (langs[said]) { item.lang = langs[said]; }
        said += 1;
        item.textContent = value;
      } else {
        item.textContent = "Plays a recording: " + value;
      }
      heard.appendChild(item);
    });
    if (turn.dial_number) {
      const item = document.createElement("li");
      item.className = "dial";
      item.textContent = "Transfers the call to " + turn.dial_number;
      heard.appendChild(item);
    }
    if (turn.ended) {
      const item = document.createElement("li");
      item.className = "ended";
      item.textContent = "The call ends.";
      heard.appendChild(item);
    }
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
  }

  async function send(label, body) {
    stopSound();
    if (call) { body.sid = call.sid; body.gather = call.gather; body.dial = call.dial; }
    let turn;
    try {
      const response = await fetch(api, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      turn = await response.json();
    } catch (error) {
      statusLine.textContent = "The step failed: " + error.message;
      return;
    }
    addTurn(label, turn);
    if (body.action === "start") { started = Date.now(); }
    if (turn.ended) {
      sendStatus(turn.sid);
      call = null;
      statusLine.textContent = "The call has ended.";
    } else {
      call = { sid: turn.sid, gather: turn.gather, dial: turn.dial, speech: turn.speech, hints: turn.hints };
      statusLine.textContent = turn.dial
        ? "Transferring to " + turn.dial_number + ": choose how the transfer ends."
        : "At " + turn.node + ": press a key, or stay silent.";
    }
    setState();
    // Play in the document's order: recordings and texts as they came, each text in its language.
    queue = spoken(turn.twiml);
    playNext();
  }

  function sendStatus(sid) {
    // Twilio's status callback at the end of a call: the journey records how it ended.
    const seconds = Math.round((Date.now() - started) / 1000);
    fetch(api, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ action: "hangup", sid: sid, seconds: seconds }),
      credentials: "same-origin",
    }).catch(() => {});
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
    const key = keys.find((k) => k.dataset.key === event.key);
    if (key) { key.click(); }
  });
  setState();
})();
