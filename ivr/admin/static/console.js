// Every console page: announce the message that came with the page, show times in the viewer's own
// time zone, and check a recording's size before it is uploaded. (CSP: no inline scripts, so here.)
(function () {
  "use strict";

  // A live region's content present when the page loads is not announced by screen readers: put the
  // messages back a moment later, so that "your recording waits as a candidate" is heard after the
  // redirect of an upload, a rollback or a publication.
  document.querySelectorAll(".flashes").forEach((region) => {
    const messages = Array.from(region.children);
    if (!messages.length) { return; }
    region.replaceChildren();
    window.setTimeout(() => { region.replaceChildren(...messages); }, 300);
  });

  // Times come as <time datetime="...Z"> in UTC; show them in this browser's time zone, UTC in the title.
  const lang = document.documentElement.lang || undefined;
  const format = new Intl.DateTimeFormat(lang, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  document.querySelectorAll("time.local[datetime]").forEach((element) => {
    const at = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) { return; }
    element.title = element.textContent;
    element.textContent = format.format(at);
  });

  // A file larger than the console takes is refused here, before minutes of uploading are wasted.
  function megabytes(bytes) { return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "") + " MB"; }

  document.querySelectorAll("input[type=file][data-max-bytes]").forEach((input) => {
    const limit = Number(input.dataset.maxBytes);
    const note = document.getElementById(input.dataset.errorId);
    function check() {
      const file = input.files && input.files[0];
      const tooLarge = Boolean(file && file.size > limit);
      const message = tooLarge
        ? file.name + " is " + megabytes(file.size) + ": the console takes at most " + megabytes(limit)
          + ". Shorten the recording, or save it as MP3, then choose it again."
        : "";
      input.setCustomValidity(message);
      if (tooLarge) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
      if (note) { note.textContent = message; }
      return !tooLarge;
    }
    input.addEventListener("change", check);
    if (input.form) {
      input.form.addEventListener("submit", (event) => {
        if (!check()) { event.preventDefault(); input.focus(); }
      });
    }
  });
})();
