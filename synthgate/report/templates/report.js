// Filter the example groups by code prefix; a bar click opens its group.
(function () {
  var input = document.getElementById("filter");
  var groups = document.querySelectorAll("details.code-examples");
  if (input) {
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      groups.forEach(function (g) { g.style.display = g.dataset.code.toLowerCase().indexOf(q) === -1 ? "none" : ""; });
    });
  }
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === "DETAILS") { el.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
