# Static files: @assets with a mount path, pr_static() in a @plumber block,
# and an endpoint under the same prefix (endpoints run before mounts).

#* @assets ./www /files
list()

#* @plumber
function(pr) {
  pr_static(pr, "/handbook", "./www/docs")
}

#* How many files the folder holds
#* @get /files/count
function() {
  list(count = length(list.files("www", recursive = TRUE)))
}
