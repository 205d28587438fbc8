# N small, real models for bench/memory.py, in OUTDIR, with R's own answer
# for one probe row each (EXPECTED, a JSON file outside OUTDIR: the bridge
# would read a .json in the folder as a sidecar), so the bench can check what
# the bridge answers.
#
# Usage: Rscript bench/memory_models.R OUTDIR N EXPECTED [ROWS]
#
# ROWS: train each model on that many rows drawn from its data set, numeric
# columns jittered (so forests grow deep trees): larger objects, the same
# kinds and the same probe rows.
#
# Four kinds in turn, each a variant (its own seed: its own weights or
# bootstrap, its own size), so no two files are the same object:
#   lm            mpg ~ wt + hp + cyl (cyl a factor), weighted
#   glm           Gamma(log) mpg ~ wt + hp, weighted
#   randomForest  Species ~ . on iris, 50-99 trees
#   ranger        Sepal.Length ~ the other three numeric columns, 50-99 trees

args <- commandArgs(trailingOnly = TRUE)
outdir <- args[[1]]
n <- as.integer(args[[2]])
expected_file <- args[[3]]
rows <- if (length(args) >= 4) as.integer(args[[4]]) else 0L
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)

grow <- function(d) {
  if (rows <= 0) return(d)
  set.seed(0)
  d <- d[sample(nrow(d), rows, replace = TRUE), ]
  num <- vapply(d, is.numeric, logical(1))
  d[num] <- lapply(d[num], function(x) x * exp(rnorm(length(x), sd = 0.05)))
  rownames(d) <- NULL
  d
}
cars <- grow(transform(mtcars, cyl = factor(cyl)))
iris_data <- grow(iris)
car_row <- data.frame(wt = 2.62, hp = 110, cyl = factor("6", levels = levels(cars$cyl)))
iris_row <- iris[1, 1:4]
kinds <- c("lm", "glm", "randomForest", "ranger")
expected <- list()

for (i in seq_len(n)) {
  kind <- kinds[[(i - 1) %% 4 + 1]]
  name <- sprintf("m%03d_%s", i, kind)
  set.seed(i)
  if (kind == "lm") {
    w <- runif(nrow(cars), 0.5, 1.5)
    m <- lm(mpg ~ wt + hp + cyl, data = cars, weights = w)
    body <- list(wt = 2.62, hp = 110, cyl = "6")
    value <- unname(predict(m, car_row))
  } else if (kind == "glm") {
    w <- runif(nrow(cars), 0.5, 1.5)
    m <- glm(mpg ~ wt + hp, family = Gamma(link = "log"), data = cars, weights = w)
    body <- list(wt = 2.62, hp = 110)
    value <- unname(predict(m, car_row))
  } else if (kind == "randomForest") {
    m <- randomForest::randomForest(Species ~ ., data = iris_data, ntree = 50 + i %% 50)
    body <- as.list(iris_row)
    value <- as.character(predict(m, iris_row))
  } else {
    m <- ranger::ranger(Sepal.Length ~ Sepal.Width + Petal.Length + Petal.Width, data = iris_data,
                        num.trees = 50 + i %% 50, num.threads = 1)
    body <- as.list(iris_row[, 2:4])
    value <- predict(m, iris_row)$predictions
  }
  saveRDS(m, file.path(outdir, paste0(name, ".rds")))
  expected[[name]] <- list(kind = kind, row = body, prediction = value,
                           r_bytes = as.numeric(object.size(m)))
}

writeLines(jsonlite::toJSON(expected, auto_unbox = TRUE, digits = NA),
           expected_file)
cat(sprintf("wrote %d models in %s\n", n, outdir))
