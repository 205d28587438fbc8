# Bodies as httpuv sends them: serializers returning several strings, none, NA.

#* @serializer text
#* @get /text/two
function() c("first", "second")

#* @serializer text
#* @get /text/none
function() character(0)

#* @serializer text
#* @get /text/na
function() NA_character_

#* @serializer text
#* @get /text/numbers
function() c(1.5, 2)

#* @serializer html
#* @get /html/lines
function() c("<p>a</p>", "<p>b</p>")

#* @serializer contentType list(type = "text/plain")
#* @get /text/typed
function() c("typed one", "typed two")
