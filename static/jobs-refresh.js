// The jobs page: while a job runs, reload every 5 s so its progress bar moves;
// stop once all have ended. A static file, so the Content-Security-Policy can
// forbid inline scripts.
"use strict";
(function () {
  const jobs = document.getElementById("jobs");
  if (jobs && jobs.dataset.refresh) {
    setTimeout(() => location.reload(), 5000);
  }
})();
