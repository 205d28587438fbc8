# R's own predict() time for the benchmark's rows: the floor under any server.
#
# Usage: Rscript bench/r_floor.R MODEL ROWS.csv SINGLE_LOOPS
# ROWS.csv holds the 100,000 rows the servers get (wt, hp, cyl); its first row
# is the single row. Prints one JSON object: seconds per single-row predict()
# (mean over SINGLE_LOOPS calls, via system.time; and the median of single
# calls each after 2 ms idle), the median of 3 timings of
# predict() on all rows, and R's predictions for the first rows and the sum of
# all of them, which the harness checks both servers against.

args <- commandArgs(trailingOnly = TRUE)
model <- readRDS(args[[1]])
rows <- utils::read.csv(args[[2]], colClasses = c("numeric", "numeric", "character"))
rows$cyl <- factor(rows$cyl, levels = model$xlevels$cyl)
loops <- as.integer(args[[3]])
one <- rows[1, , drop = FALSE]

invisible(predict(model, newdata = one))  # warm up method dispatch
single <- system.time(for (i in seq_len(loops)) predict(model, newdata = one))[["elapsed"]]
# The same call as a server makes it: after its process idled (2 ms asleep,
# about a sequential client's gap between two of the bridge's answers). R's
# working set goes cold in between, and no server answering one request at
# a time can avoid that; the loop above never pays it.
idle_loops <- min(loops, 500L)
idle <- vapply(seq_len(idle_loops), function(i) {
  Sys.sleep(0.002)
  t0 <- Sys.time()
  predict(model, newdata = one)
  as.numeric(Sys.time() - t0, units = "secs")
}, 0)
# Sys.time(), not system.time(): its 1 ms steps made a small test's rows 0 s.
bulk <- vapply(1:3, function(i) {
  t0 <- Sys.time()
  predict(model, newdata = rows)
  as.numeric(Sys.time() - t0, units = "secs")
}, 0)

all <- unname(predict(model, newdata = rows))

cat(jsonlite::toJSON(list(
  head = all[1:3],
  sum = sum(all),
  single_s = single / loops,
  single_loops = loops,
  single_idle_s = stats::median(idle),
  single_idle_loops = idle_loops,
  bulk_rows = nrow(rows),
  bulk_s = stats::median(bulk),
  bulk_runs = bulk,
  r_version = R.version.string,
  plumber = as.character(utils::packageVersion("plumber")),
  httpuv = as.character(utils::packageVersion("httpuv")),
  jsonlite = as.character(utils::packageVersion("jsonlite"))
), auto_unbox = TRUE, digits = NA))
