// Asks the API next to the static files and shows the answer.
fetch("/api/hello")
  .then((resp) => resp.json())
  .then((body) => { document.getElementById("answer").textContent = body.message; });
