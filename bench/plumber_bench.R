# The Plumber side of the benchmark: what a careful Plumber user writes to
# serve r_models/mtcars_lm.rds. Started by bench/servers.py as
#   Rscript -e 'plumber::pr_run(plumber::plumb("bench/plumber_bench.R"), ...)'
# with BENCH_MODEL set to the model file's absolute path (plumb() runs this
# file from its own folder, so a relative path would be fragile).

model <- readRDS(Sys.getenv("BENCH_MODEL"))
# cyl is a factor in the model; rebuilding it from the request's strings with
# the model's own levels keeps a batch holding only "6" predicting correctly.
cyl_levels <- model$xlevels$cyl

#* Predict mpg for JSON rows [{"wt":..,"hp":..,"cyl":".."}] or for
#* column-oriented {"data": {"wt": [..], "hp": [..], "cyl": [..]}}.
#* @post /predict
#* @parser json
#* @serializer json list(digits = NA)
function(req) {
  body <- req$body
  newdata <- if (is.data.frame(body)) body else as.data.frame(body$data)
  newdata$cyl <- factor(as.character(newdata$cyl), levels = cyl_levels)
  list(predictions = unname(predict(model, newdata = newdata)))
}
