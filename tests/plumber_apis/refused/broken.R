#* @get /hello
function() {
  "unterminated
