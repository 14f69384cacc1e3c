// Check-in page: scan a badge's QR code with the device camera; the code lands in the form,
// which is then submitted as if typed. The browser's BarcodeDetector reads the frames where it
// exists; elsewhere (Safari, Firefox, desktop Chromium) the ZXing library that the portal serves
// itself is loaded on the first scan. Without a camera the button stays hidden and typing works.
(function () {
  "use strict";
  var start = document.getElementById("scan-start");
  var form = document.getElementById("checkin-form");
  if (!start || !form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var panel = document.getElementById("scanner");
  var video = document.getElementById("scanner-video");
  var status = document.getElementById("scanner-status");
  var stop = document.getElementById("scan-stop");
  var codeField = form.querySelector("input[name=code]");
  var stream = null;
  var read = null;
  start.hidden = false;

  function codeFrom(text) {
    // Badges encode the bare code; a longer payload keeps its last path segment.
    var match = /([A-Z0-9]{8})\s*$/i.exec(text || "");
    return match ? match[1].toUpperCase() : null;
  }

  function nativeReader() {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return function () {
      return detector.detect(video).then(function (found) {
        return found.length ? found[0].rawValue : null;
      });
    };
  }

  function zxingReader() {
    var ZXing = window.ZXing;
    var reader = new ZXing.QRCodeReader();
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    return function () {
      if (!video.videoWidth) {
        return Promise.resolve(null);
      }
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var bitmap = new ZXing.BinaryBitmap(new ZXing.HybridBinarizer(new ZXing.HTMLCanvasElementLuminanceSource(canvas)));
      try {
        return Promise.resolve(reader.decode(bitmap).getText());
      } catch (notFound) {
        // ZXing throws when a frame holds no readable code: try the next frame.
        return Promise.resolve(null);
      } finally {
        reader.reset();
      }
    };
  }

  function loadReader() {
    if (read) {
      return Promise.resolve(read);
    }
    if ("BarcodeDetector" in window) {
      read = nativeReader();
      return Promise.resolve(read);
    }
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = start.getAttribute("data-decoder");
      script.onload = function () {
        read = zxingReader();
        resolve(read);
      };
      script.onerror = reject;
      document.head.appendChild(script);
    });
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
    read().then(function (text) {
      var code = codeFrom(text);
      if (code) {
        codeField.value = code;
        stopCamera();
        form.submit();
      } else {
        window.setTimeout(scan, 120);
      }
    }).catch(function () {
      window.setTimeout(scan, 120);
    });
  }

  start.addEventListener("click", function () {
    loadReader().then(function () {
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    }).then(function (media) {
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
