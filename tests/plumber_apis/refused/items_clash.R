#* The same route as items_api.R
#* @get /items/<n:int>
function(n) list(n = n)
