#* Shadows the bridge's own model description
#* @get /models/<name>
function(name) list(name = name)

#* Not a bridge route, but in the bridge's /models namespace
#* @get /models/<name>/explain
function(name) list(name = name)

#* A catch-all that would also match /metrics, /healthz, /readyz, /models
#* @get /<page>
function(page) page

#* Static files in the bridge's /models namespace
#* @assets ./www /models/files
list()
