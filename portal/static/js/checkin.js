// Check-in page: scan a badge's QR code with the device camera where the browser
// has BarcodeDetector; the code lands in the form, which is then submitted as if typed.
// Without BarcodeDetector (or a camera) the button stays hidden and typing works as ever.
(function () {
  "use strict";
  var start = document.getElementById("scan-start");
  var form = document.getElementById("checkin-form");
  if (!start || !form || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
    return;
  }
  var panel = document.getElementById("scanner");
  var video = document.getElementById("scanner-video");
  var status = document.getElementById("scanner-status");
  var stop = document.getElementById("scan-stop");
  var codeField = form.querySelector("input[name=code]");
  var stream = null;
  var detector = null;
  start.hidden = false;

  function codeFrom(text) {
    // Badges encode the bare code; a longer payload keeps its last path segment.
    var match = /([A-Z0-9]{8})\s*$/i.exec(text || "");
    return match ? match[1].toUpperCase() : null;
  }

  function stopCamera() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    panel.hidden = true;
    start.hidden = false;
    start.focus();
  }

  function scan() {
    if (!stream) {
      return;
    }
    detector.detect(video).then(function (found) {
      var code = found.length ? codeFrom(found[0].rawValue) : null;
      if (code) {
        codeField.value = code;
        stopCamera();
        form.submit();
      } else {
        window.requestAnimationFrame(scan);
      }
    }).catch(function () {
      window.requestAnimationFrame(scan);
    });
  }

  start.addEventListener("click", function () {
    detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (media) {
      stream = media;
      video.srcObject = media;
      panel.hidden = false;
      start.hidden = true;
      status.textContent = "Point the camera at the QR code.";
      return video.play();
    }).then(scan).catch(function () {
      status.textContent = "The camera could not be started. Type the code instead.";
      panel.hidden = false;
    });
  });
  stop.addEventListener("click", stopCamera);
})();
