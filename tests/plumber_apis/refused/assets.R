#* @assets ./www /static
list()

#* @get /hello
function() "hello"
