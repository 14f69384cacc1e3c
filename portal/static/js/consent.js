// Cookie banner: decide without a page reload, reopen from "Cookie settings".
// Without JavaScript the same forms post to /consent and come back to the page.
(function () {
  "use strict";
  var banner = document.querySelector("[data-consent-banner]");
  if (!banner) return;
  var gpc = navigator.globalPrivacyControl === true;
  var returnFocusTo = null;

  document.querySelectorAll("[data-consent-gpc]").forEach(function (field) {
    if (gpc) field.value = "1";
  });
  if (gpc) {
    var note = banner.querySelector("[data-consent-gpc-note]");
    if (note) note.hidden = false;
  }

  function closeBanner() {
    var hadFocus = banner.contains(document.activeElement);
    banner.hidden = true;
    if (hadFocus) {
      var target = returnFocusTo || document.getElementById("main");
      if (target) target.focus();
    }
    returnFocusTo = null;
  }

  function showMessage(form, text) {
    var message = form.querySelector(".consent__message");
    if (!message) {
      message = document.createElement("p");
      message.className = "consent__message";
      message.setAttribute("role", "alert");
      form.appendChild(message);
    }
    message.textContent = text;
  }

  document.querySelectorAll("[data-consent-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !window.fetch) return; // let the browser post the form
      event.preventDefault();
      var body = new FormData(form);
      body.set("action", button.value);
      if (gpc) body.set("gpc", "1");
      // getAttribute: form.action would be the buttons named "action".
      fetch(form.getAttribute("action"), {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      }).then(function (result) {
        document.querySelectorAll("[data-consent-form] input[name=categories]").forEach(function (box) {
          box.checked = result.granted.indexOf(box.value) !== -1;
        });
        if (banner.contains(form)) closeBanner();
        else showMessage(form, "Your choice is saved.");
      }).catch(function () {
        showMessage(form, "Your choice could not be saved. Please try again.");
      });
    });
  });

  document.querySelectorAll("[data-consent-open]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      returnFocusTo = link;
      banner.hidden = false;
      var choices = banner.querySelector("[data-consent-choices]");
      if (choices) choices.open = true;
      banner.querySelector("#consent-title").focus();
    });
  });
})();
