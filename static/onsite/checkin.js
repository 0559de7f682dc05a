// The check-in page's camera scanner (templates/onsite/checkin.html). It reads the QR code of a badge
// with @zxing/browser, loaded just before this file, and sends the code with the page's code form.
// Without a camera, the library or JavaScript, the code field and the name search work as they are.
// Once started, the camera starts again by itself when the page comes back after a check-in, so that
// the next person can be scanned at once; the badge just read, probably still in front of the camera,
// is ignored for a few seconds.
(function () {
  "use strict";
  var box = document.getElementById("scanner");
  if (!box) {
    return;
  }
  var video = document.getElementById("scanner-video");
  var start = document.getElementById("scanner-start");
  var stop = document.getElementById("scanner-stop");
  var status = document.getElementById("scanner-status");
  var form = document.getElementById("code-form");
  var input = document.getElementById("code");
  var remembered = "meeting.checkin.scanning";
  var lastCode = "meeting.checkin.last-code";
  var lastTime = "meeting.checkin.last-time";
  var sameBadgeDelay = 8000;
  var controls = null;

  function say(message) {
    status.textContent = box.dataset[message] || "";
  }

  var mediaDevices = navigator.mediaDevices;
  if (!window.ZXingBrowser || !mediaDevices || !mediaDevices.getUserMedia) {
    say(window.isSecureContext === false ? "msgInsecure" : "msgUnavailable");
    return;
  }

  function show(scanning) {
    video.hidden = !scanning;
    stop.hidden = !scanning;
    start.hidden = scanning;
  }

  function stopScanning() {
    if (controls) {
      controls.stop();
      controls = null;
    }
    show(false);
    window.sessionStorage.removeItem(remembered);
  }

  function startScanning() {
    say("msgStarting");
    show(true);
    window.sessionStorage.setItem(remembered, "1");
    var reader = new window.ZXingBrowser.BrowserQRCodeReader();
    reader
      .decodeFromConstraints({ video: { facingMode: "environment" } }, video, function (result, error, scan) {
        if (!result) {
          return;
        }
        var code = result.getText();
        var storage = window.sessionStorage;
        var readBefore = Number(storage.getItem(lastTime) || 0);
        if (code === storage.getItem(lastCode) && Date.now() - readBefore < sameBadgeDelay) {
          return;
        }
        storage.setItem(lastCode, code);
        storage.setItem(lastTime, String(Date.now()));
        scan.stop();
        controls = null;
        say("msgFound");
        input.value = code;
        form.submit();
      })
      .then(function (scan) {
        controls = scan;
        say("msgScanning");
      })
      .catch(function () {
        stopScanning();
        say("msgDenied");
      });
  }

  start.addEventListener("click", startScanning);
  stop.addEventListener("click", function () {
    stopScanning();
    say("msgStopped");
  });
  show(false);
  if (window.sessionStorage.getItem(remembered)) {
    startScanning();
  }
})();
