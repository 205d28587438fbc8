# Train the example models shipped in r_models/.
#
# Usage: Rscript r_scripts/train_examples.R [OUTDIR]   (default OUTDIR = r_models)
#
# Each model shows the bridge a different case: an lm with a factor input, an
# .rda holding one named object, a randomForest classifier, and a ranger
# regression whose factor levels only a ptype records.

args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[[1]] else "r_models"
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)

script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(dirname(script_file), "ptype.R"))

report <- function(path) {
  cat(sprintf("wrote %s (%.1f kB)\n", path, file.size(path) / 1024))
}

write_rds <- function(model, name) {
  path <- file.path(outdir, name)
  saveRDS(model, path, compress = "xz")
  report(path)
}

# cyl as a real factor, so callers must send "4"/"6"/"8" labels, not numbers.
set.seed(1)
cars <- transform(mtcars, cyl = factor(cyl))
write_rds(lm(mpg ~ wt + hp + cyl, data = cars), "mtcars_lm.rds")

# An .rda is loaded by object name, so the name inside the file is part of the
# contract: exactly one object, called infert_glm.
set.seed(1)
infert_glm <- glm(case ~ age + parity + education + spontaneous + induced,
                  family = binomial, data = infert)
path <- file.path(outdir, "infert_glm.rda")
save(infert_glm, file = path, compress = "xz")
report(path)

# keep.forest is needed to predict at all; it is the default without xtest,
# stated here because dropping it would leave a model that cannot serve.
set.seed(1)
write_rds(randomForest::randomForest(Species ~ ., data = iris, ntree = 100,
                                     keep.forest = TRUE),
          "iris_rf.rds")

# ranger (default respect.unordered.factors = "ignore") splits on factor codes
# and keeps no levels, so tension's L/M/H order is recorded in a ptype; without
# it, levels rebuilt from request strings sort to H/L/M and predict wrongly.
# num.threads = 1: the forest only depends on the seed, but one thread keeps
# the run cheap and obviously reproducible.
set.seed(1)
rf <- ranger::ranger(breaks ~ wool + tension, data = warpbreaks,
                     num.trees = 100, num.threads = 1)
write_rds(attach_ptype(rf, warpbreaks, cols = rf$forest$independent.variable.names),
          "warpbreaks_ranger.rds")
