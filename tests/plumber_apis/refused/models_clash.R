#* Shadows the bridge's own model listing
#* @get /models/<name>
function(name) list(name = name)
