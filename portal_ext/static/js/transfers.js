// The transfer form: show only the fields of the chosen strategy (without JavaScript every
// fieldset shows, and the server ignores the ones the strategy does not use).
(function () {
  "use strict";
  var form = document.getElementById("transfer-form");
  if (!form) { return; }
  function update() {
    var chosen = form.querySelector("input[name=strategy]:checked");
    var value = chosen ? chosen.value : "";
    form.querySelectorAll("fieldset[data-strategy]").forEach(function (box) {
      box.hidden = box.getAttribute("data-strategy") !== value;
    });
  }
  form.addEventListener("change", update);
  update();
}());
