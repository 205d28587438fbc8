# Versioned model folders for tests/test_versions.py, and R's own answers.
# Usage: Rscript build.R OUTDIR ; writes OUTDIR/<name>/<version>/... and
# prints a JSON case: the rows sent and predict()'s answers per version.
#
# The pins board is written as pins::board_folder(versioned = TRUE) writes
# one (pins-r R/board_folder.R pin_store + R/meta.R standard_meta/write_meta):
# <name>/<version>/data.txt (YAML) beside the pinned .rds, version names
# "<created>-<first 5 of pin_hash>". pins and vetiver are not installed here:
# the YAML is written by hand with the same fields, and the pinned object is
# what vetiver_pin_write() pins (list(model, prototype, required_pkgs)) or a
# classed vetiver_model.
args <- commandArgs(trailingOnly = TRUE)
root <- args[1]
dir.create(root, showWarnings = FALSE)

save_version <- function(name, v, fit, predict_fn = NULL, json = NULL) {
  d <- file.path(root, name, v)
  dir.create(d, recursive = TRUE, showWarnings = FALSE)
  saveRDS(fit, file.path(d, "model.rds"))
  if (!is.null(predict_fn)) writeLines(predict_fn, file.path(d, "model.R"))
  if (!is.null(json)) writeLines(json, file.path(d, "model.json"))
}
rows <- mtcars[1:6, c("wt", "hp", "qsec")]
fits <- list(lm(mpg ~ wt, mtcars), lm(mpg ~ wt + hp, mtcars), lm(mpg ~ hp + wt + qsec, mtcars))
expected <- lapply(fits, function(f) unname(predict(f, rows)))

# credit: three versions that answer differently.
for (i in 1:3) save_version("credit", i, fits[[i]])
# hostile and moving: two versions each (their serving.json is the test's).
for (name in c("hostile", "moving", "reload")) for (i in 1:2) save_version(name, i, fits[[i]])

# shadowed: v1 answers; v2 is another fit (compared); v3 sleeps 2 s; v4 errors.
save_version("shadowed", 1, fits[[1]])
save_version("shadowed", 2, fits[[2]])
save_version("shadowed", 3, fits[[1]],
  predict_fn = c("predict_fn <- function(model, newdata) {",
                 "  if (nrow(newdata) > 1 || !identical(newdata$wt, 1)) Sys.sleep(2)",
                 "  predict(model, newdata)", "}"))
save_version("shadowed", 4, fits[[1]],
  predict_fn = c("predict_fn <- function(model, newdata) {",
                 "  if (nrow(newdata) > 1 || !identical(newdata$wt, 1)) stop('the shadow failed')",
                 "  predict(model, newdata)", "}"))
# labels: versions answering classes, for the shadow's agreement rate.
label_fn <- function(cut) c("predict_fn <- function(model, newdata) {",
  sprintf("  ifelse(predict(model, newdata) > %s, 'high', 'low')", cut), "}")
save_version("labels", 1, fits[[1]], predict_fn = label_fn(20))
save_version("labels", 2, fits[[1]], predict_fn = label_fn(22))
labels <- lapply(c(20, 22), function(cut) ifelse(expected[[1]] > cut, "high", "low"))

# A pins board: three versions of "board", pinned as vetiver_pin_write does.
write_pin <- function(name, object, created, hash) {
  version <- paste0(created, "-", substr(hash, 1, 5))
  d <- file.path(root, name, version)
  dir.create(d, recursive = TRUE, showWarnings = FALSE)
  file <- paste0(name, ".rds")
  saveRDS(object, file.path(d, file))
  writeLines(c(
    paste0("file: ", file),
    paste0("file_size: ", file.size(file.path(d, file))),
    paste0("pin_hash: ", hash),
    "type: rds",
    paste0("title: '", name, ": a pinned list'"),
    "description: A linear model of mpg",
    "tags: ~",
    "urls: ~",
    paste0("created: ", created),
    "api_version: 1",
    "user:",
    "  required_pkgs:",
    "  - stats"), file.path(d, "data.txt"))
  version
}
ptype <- rows[0, c("wt", "hp")]
pinned <- c(
  # what vetiver_pin_write() pins: list(model, prototype, required_pkgs)
  write_pin("board", list(model = fits[[1]], prototype = ptype, required_pkgs = "stats"),
            "20240101T120000Z", "c9e9b1a2b3c4d5e6"),
  write_pin("board", list(model = fits[[2]], ptype = ptype, required_pkgs = "stats"),
            "20240301T120000Z", "0a1b2c3d4e5f6a7b"),
  # a vetiver_model object itself (vetiver-r R/vetiver-model.R new_vetiver_model)
  write_pin("board", structure(list(model = fits[[3]], model_name = "board",
                                    description = "mpg", metadata = list(required_pkgs = "stats"),
                                    prototype = rows[0, ]), class = "vetiver_model"),
            "20240201T120000Z", "ffffeeee11112222"))

# A vetiver_model saved as a plain model file: served as its $model too.
saveRDS(structure(list(model = fits[[3]], model_name = "vetted", description = "mpg",
                       metadata = list(required_pkgs = "stats"), prototype = rows[0, ]),
                  class = "vetiver_model"), file.path(root, "vetted.rds"))

# A forecaster with two versions.
dir.create(file.path(root, "co2"), showWarnings = FALSE)
save_version("co2", 1, HoltWinters(co2))
save_version("co2", 2, HoltWinters(co2, beta = FALSE, gamma = FALSE))

cat(jsonlite::toJSON(list(rows = rows, expected = expected, labels = labels,
                          pins = pinned), digits = NA, dataframe = "rows", auto_unbox = TRUE))
