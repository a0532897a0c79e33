// Record a prompt with the microphone (MediaRecorder), hear it, then keep (upload) or discard it.
(function () {
  "use strict";
  const box = document.getElementById("recorder");
  if (!box || !navigator.mediaDevices || !window.MediaRecorder) { return; }
  box.hidden = false;
  const startBtn = document.getElementById("rec-start");
  const stopBtn = document.getElementById("rec-stop");
  const keepBtn = document.getElementById("rec-keep");
  const discardBtn = document.getElementById("rec-discard");
  const preview = document.getElementById("rec-preview");
  const status = document.getElementById("rec-status");
  let recorder = null;
  let chunks = [];
  let blob = null;

  const limit = Number(box.dataset.maxBytes || 0);

  function buttons(recording, have) {
    startBtn.disabled = recording;
    stopBtn.disabled = !recording;
    keepBtn.disabled = !have;
    discardBtn.disabled = !have;
  }

  // Keyboard users stay on what comes next: the button they pressed may just have been disabled.
  function focusOn(element) {
    if (element && !element.disabled) { element.focus(); }
  }

  function megabytes(bytes) { return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "") + " MB"; }

  function pickType() {
    const types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"];
    return types.find((t) => MediaRecorder.isTypeSupported(t)) || "";
  }

  startBtn.addEventListener("click", async () => {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      status.textContent = "The microphone is not available: " + error.message;
      return;
    }
    chunks = [];
    const type = pickType();
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    recorder.addEventListener("dataavailable", (event) => { if (event.data.size) { chunks.push(event.data); } });
    recorder.addEventListener("stop", () => {
      stream.getTracks().forEach((t) => t.stop());
      blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
      preview.src = URL.createObjectURL(blob);
      preview.hidden = false;
      status.textContent = "Recorded " + (blob.size / 1024).toFixed(0) + " KB. Listen, then keep it or discard it.";
      buttons(false, true);
      preview.focus();
    });
    recorder.start();
    status.textContent = "Recording… press Stop when you have finished.";
    buttons(true, false);
    focusOn(stopBtn);
  });

  stopBtn.addEventListener("click", () => { if (recorder && recorder.state !== "inactive") { recorder.stop(); } });

  discardBtn.addEventListener("click", () => {
    blob = null;
    preview.removeAttribute("src");
    preview.hidden = true;
    status.textContent = "Discarded.";
    buttons(false, false);
    focusOn(startBtn);
  });

  keepBtn.addEventListener("click", async () => {
    if (!blob) { return; }
    if (limit && blob.size > limit) {
      status.textContent = "This recording is " + megabytes(blob.size) + ": the console takes at most "
        + megabytes(limit) + ". Discard it and record a shorter take.";
      return;
    }
    const form = new FormData();
    const ext = blob.type.indexOf("ogg") >= 0 ? "ogg" : "webm";
    form.append("csrf_token", box.dataset.csrf);
    form.append("audio", blob, "browser-recording." + ext);
    status.textContent = "Uploading…";
    buttons(false, false);
    try {
      const response = await fetch(box.dataset.upload, {
        method: "POST",
        body: form,
        headers: { "X-Requested-With": "fetch", "X-CSRFToken": box.dataset.csrf },
        credentials: "same-origin",
      });
      const answer = await response.json();
      status.textContent = answer.message;
      // On success the page reloads and shows the message again, where it is announced (console.js).
      if (answer.ok) { window.location.reload(); } else { buttons(false, true); focusOn(keepBtn); }
    } catch (error) {
      status.textContent = "The upload failed: " + error.message;
      buttons(false, true);
      focusOn(keepBtn);
    }
  });
})();
