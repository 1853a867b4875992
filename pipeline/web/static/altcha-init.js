// Registers the proof-of-work workers that this app serves itself, so the ALTCHA widget
// runs under a strict Content-Security-Policy (worker-src 'self'; no blob: workers).
(function () {
  "use strict";
  var base = "/static/vendor/altcha/workers/";
  var algorithms = globalThis.$altcha && globalThis.$altcha.algorithms;
  if (!algorithms) {
    return;
  }
  ["PBKDF2/SHA-256", "PBKDF2/SHA-384", "PBKDF2/SHA-512"].forEach(function (name) {
    algorithms.set(name, function () { return new Worker(base + "pbkdf2.js"); });
  });
  ["SHA-256", "SHA-384", "SHA-512"].forEach(function (name) {
    algorithms.set(name, function () { return new Worker(base + "sha.js"); });
  });
})();
