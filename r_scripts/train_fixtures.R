# Train the test fixture models and, for each, a JSON "case" the Python tests
# replay through the bridge and compare with R's own predict().
#
# Usage: Rscript r_scripts/train_fixtures.R OUTDIR
#
# A case file looks like
#   {"model": NAME, "rows": [{col: value, ...}, ...], "args": {...},
#    "expected": [one entry per row]}
# where rows is newdata as an HTTP caller would send it and expected is
# predict(model, newdata, <args>) computed here on the real R data.frame.
#
# Fits stay at top level on purpose: a formula keeps the environment it was
# made in, and saveRDS stores a local environment (with every object in it)
# but only a reference to the global one.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript r_scripts/train_fixtures.R OUTDIR")
outdir <- args[[1]]
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)

script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(dirname(script_file), "ptype.R"))

# ---- JSON ------------------------------------------------------------------
# Written by hand because jsonlite rounds numbers to 15 significant digits
# even with digits = NA, and the tests compare predictions at full precision.

json_string <- function(x) {
  vapply(x, function(s) as.character(jsonlite::toJSON(jsonlite::unbox(s))), "",
         USE.NAMES = FALSE)
}

# Shortest of 15..17 significant digits that reads back as the same double.
# Non-finite values stay "null": JSON has no NaN or Inf.
json_number <- function(x) {
  out <- rep("null", length(x))
  ok <- is.finite(x)
  v <- x[ok]
  s <- sprintf("%.15g", v)
  for (d in 16:17) {
    bad <- as.numeric(s) != v
    s[bad] <- sprintf("%.*g", d, v[bad])
  }
  out[ok] <- s
  out
}

# One JSON literal per element; NA -> null.
json_column <- function(x) {
  out <- if (is.factor(x) || is.character(x)) {
    json_string(as.character(x))
  } else if (is.logical(x)) {
    ifelse(x, "true", "false")
  } else if (inherits(x, "Date")) {
    json_string(format(x, "%Y-%m-%d"))
  } else if (inherits(x, "POSIXct")) {
    secs <- if (any(as.numeric(x) %% 1 != 0, na.rm = TRUE)) "%OS6" else "%S"
    json_string(format(x, paste0("%Y-%m-%dT%H:%M:", secs, "Z"), tz = "UTC"))
  } else if (is.integer(x)) {
    as.character(x)
  } else if (is.double(x)) {
    json_number(x)
  } else {
    stop("no JSON encoding for class ", class(x)[[1]])
  }
  out[is.na(x)] <- "null"
  out
}

# One JSON object per row, keyed by column name.
json_rows <- function(df) {
  df <- as.data.frame(df)
  keys <- json_string(names(df))
  cols <- lapply(df, json_column)
  vapply(seq_len(nrow(df)), function(i) {
    paste0("{", paste0(keys, ": ", vapply(cols, `[[`, "", i), collapse = ", "), "}")
  }, "")
}

# Class probabilities and intervals come back as matrices: one object per row.
# Everything else is one scalar per row (as.vector drops names and 1-d dims).
json_expected <- function(pred) {
  if (is.matrix(pred) || is.data.frame(pred)) {
    paste0("[\n    ", paste(json_rows(pred), collapse = ",\n    "), "\n  ]")
  } else {
    if (is.factor(pred)) pred <- as.character(pred)
    paste0("[", paste(json_column(as.vector(pred)), collapse = ", "), "]")
  }
}

json_args <- function(args) {
  if (length(args) == 0) return("{}")
  values <- vapply(args, json_column, "")
  paste0("{", paste0(json_string(names(args)), ": ", values, collapse = ", "), "}")
}

write_case <- function(file, model, newdata, expected, args = list()) {
  stopifnot(NROW(expected) == nrow(newdata))
  text <- paste0(
    "{\n",
    '  "model": ', json_string(model), ",\n",
    '  "rows": [\n    ', paste(json_rows(newdata), collapse = ",\n    "), "\n  ],\n",
    '  "args": ', json_args(args), ",\n",
    '  "expected": ', json_expected(expected), "\n",
    "}\n")
  path <- file.path(outdir, file)
  writeLines(text, path)
  cat("wrote", path, fill = TRUE)
}

# ---- helpers -----------------------------------------------------------------

save_model <- function(model, name) {
  path <- file.path(outdir, paste0(name, ".rds"))
  saveRDS(model, path)
  cat("wrote", path, fill = TRUE)
}

# The case for the common shape: predict(model, newdata = newdata, <args>).
case_from_predict <- function(name, model, newdata, args = list(), file = paste0(name, ".case.json")) {
  expected <- do.call(predict, c(list(model, newdata = newdata), args))
  write_case(file, name, newdata, expected, args)
}

# The first n row numbers for each level of `by`, so newdata hits every level.
rows_per_level <- function(data, by, n = 2) {
  unname(unlist(lapply(split(seq_len(nrow(data)), data[[by]]), head, n)))
}

# Callers send no row names; dropping them keeps newdata what the bridge sees.
newdata_of <- function(data, rows, cols) {
  out <- data[rows, cols, drop = FALSE]
  rownames(out) <- NULL
  out
}

# A classifier breaks ties at random at predict time; a tied row would make
# the expected label a coin toss, so refuse to write such a case.
stop_on_ties <- function(prob) {
  top <- apply(prob, 1, function(p) sum(p == max(p)))
  if (any(top > 1)) stop("tied class probabilities in newdata rows: ", paste(which(top > 1), collapse = ", "))
}

# mtcars with the types a real caller meets: a factor, an ordered factor made
# by cut() with non-alphabetical levels, and a true integer column.
mt <- transform(mtcars,
                cyl = factor(cyl),
                power = cut(hp, c(0, 100, 180, Inf), labels = c("low", "mid", "high"),
                            ordered_result = TRUE),
                gear = as.integer(gear))

# iris plus a factor input whose level order is not alphabetical, so a bridge
# that rebuilds levels by sorting gets the forests' factor splits wrong.
set.seed(100)
soils <- c("sand", "clay", "loam")
iris_f <- iris
iris_f$soil <- factor(ifelse(runif(nrow(iris)) < 0.7, soils[as.integer(iris$Species)],
                             sample(soils, nrow(iris), replace = TRUE)),
                      levels = soils)
iris_rows <- c(1, 2, 51, 52, 101, 102)

# ---- 1. lm_factor ------------------------------------------------------------
set.seed(1)
fit <- lm(mpg ~ wt + cyl + power + gear, data = mt)
save_model(fit, "lm_factor")
nd <- newdata_of(mt, c(1, 3, 5, 7, 19, 29), c("wt", "cyl", "power", "gear"))
na_rows <- nd[c(1, 2), ]
na_rows$wt[1] <- NA
na_rows$cyl[2] <- NA
case_from_predict("lm_factor", fit, rbind(nd, na_rows))

# ---- 2. lm_types -------------------------------------------------------------
set.seed(2)
n <- 40
start <- as.Date("2024-01-01")
d <- data.frame(flag = sample(c(TRUE, FALSE), n, replace = TRUE),
                day = start + sample(0:364, n, replace = TRUE),
                count = rpois(n, 5))
d$y <- 3 + 2 * d$flag + 0.01 * as.numeric(d$day - start) + 0.5 * d$count + rnorm(n, sd = 0.5)
stopifnot(is.integer(d$count))
fit <- lm(y ~ flag + day + count, data = d)
save_model(fit, "lm_types")
case_from_predict("lm_types", fit, newdata_of(d, 1:6, c("flag", "day", "count")))

# ---- 3. glm_binomial ---------------------------------------------------------
set.seed(3)
fit <- glm(case ~ age + parity + education + spontaneous + induced,
           family = binomial, data = infert)
save_model(fit, "glm_binomial")
nd <- newdata_of(infert, rows_per_level(infert, "education"),
                 c("age", "parity", "education", "spontaneous", "induced"))
case_from_predict("glm_binomial", fit, nd, list(type = "response"))

# ---- 4. glm_poisson_offset ---------------------------------------------------
set.seed(4)
n <- 80
d <- data.frame(x = runif(n),
                region = factor(sample(c("north", "south", "east", "west"), n, replace = TRUE)),
                exposure = runif(n, 1, 10))
rate <- exp(-1 + 0.8 * d$x + c(north = 0, south = 0.3, east = -0.2, west = 0.5)[as.character(d$region)])
d$events <- rpois(n, d$exposure * rate)
fit <- glm(events ~ x + region + offset(log(exposure)), family = poisson, data = d)
save_model(fit, "glm_poisson_offset")
nd <- newdata_of(d, rows_per_level(d, "region"), c("x", "region", "exposure"))
case_from_predict("glm_poisson_offset", fit, nd, list(type = "response"))

# ---- 5. randomforest_class (+ _prob) -----------------------------------------
set.seed(5)
fit <- randomForest::randomForest(Species ~ ., data = iris_f, ntree = 25)
save_model(fit, "randomforest_class")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
stopifnot(nlevels(droplevels(nd$soil)) == 3)
stop_on_ties(predict(fit, nd, type = "prob"))
case_from_predict("randomforest_class", fit, nd)
case_from_predict("randomforest_class", fit, nd, list(type = "prob"),
                  file = "randomforest_class_prob.case.json")

# ---- 6. ranger_reg -----------------------------------------------------------
# With its default respect.unordered.factors = "ignore", ranger splits on
# factor codes and stores neither terms nor levels: a request whose "L"/"M"/"H"
# became alphabetical levels would be predicted silently wrong. The ptype is
# the only record of the training levels.
# warpbreaks is laid out in blocks of 9 rows, one per wool x tension cell.
set.seed(6)
fit <- ranger::ranger(breaks ~ wool + tension, data = warpbreaks,
                      num.trees = 20, num.threads = 1)
fit <- attach_ptype(fit, warpbreaks, cols = fit$forest$independent.variable.names)
save_model(fit, "ranger_reg")
nd <- newdata_of(warpbreaks, seq(1, 54, by = 9), c("wool", "tension"))
write_case("ranger_reg.case.json", "ranger_reg", nd,
           predict(fit, data = nd, num.threads = 1)$predictions)

# ---- 7. ranger_class_prob ----------------------------------------------------
# Same reason as ranger_reg for the ptype: soil's levels live nowhere else.
set.seed(7)
fit <- ranger::ranger(Species ~ ., data = iris_f, probability = TRUE,
                      num.trees = 20, num.threads = 1)
fit <- attach_ptype(fit, iris_f, cols = fit$forest$independent.variable.names)
save_model(fit, "ranger_class_prob")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
write_case("ranger_class_prob.case.json", "ranger_class_prob", nd,
           predict(fit, data = nd, num.threads = 1)$predictions)

# ---- 8. rpart_class ----------------------------------------------------------
# cu.summary is rpart's own example: many-level factors, an ordered response,
# and missing Mileage that rpart routes through surrogates (so an NA input
# still gets a label).
set.seed(8)
cu <- rpart::cu.summary
fit <- rpart::rpart(Reliability ~ Price + Country + Mileage + Type, data = cu, method = "class")
save_model(fit, "rpart_class")
nd <- newdata_of(cu, c(rows_per_level(cu, "Type", 1), which(is.na(cu$Mileage))[3]),
                 c("Price", "Country", "Mileage", "Type"))
stop_on_ties(predict(fit, nd, type = "prob"))
case_from_predict("rpart_class", fit, nd, list(type = "class"))

# ---- 9. svm_ptype ------------------------------------------------------------
set.seed(9)
fit <- attach_ptype(e1071::svm(mpg ~ wt + hp + cyl, data = mt), mt)
save_model(fit, "svm_ptype")
case_from_predict("svm_ptype", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")))

# ---- 10. gam_mgcv ------------------------------------------------------------
set.seed(10)
n <- 100
d <- data.frame(x = runif(n, 0, 10),
                group = factor(sample(c("a", "b", "c"), n, replace = TRUE)))
d$y <- sin(d$x) + c(a = 0, b = 1, c = -1)[as.character(d$group)] + rnorm(n, sd = 0.3)
fit <- mgcv::gam(y ~ s(x) + group, data = d)
save_model(fit, "gam_mgcv")
case_from_predict("gam_mgcv", fit, newdata_of(d, rows_per_level(d, "group"), c("x", "group")))

# ---- 11. gbm_reg -------------------------------------------------------------
# bag.fraction = 1 makes the fit independent of the RNG; args stay {} because
# the bridge must supply n.trees itself.
set.seed(11)
n <- 200
d <- data.frame(x1 = runif(n), x2 = runif(n),
                shape = factor(sample(c("circle", "square", "triangle"), n, replace = TRUE),
                               levels = c("triangle", "circle", "square")))
d$y <- 2 * d$x1 - d$x2 + c(triangle = 0, circle = 1, square = -1)[as.character(d$shape)] +
  rnorm(n, sd = 0.2)
fit <- gbm::gbm(y ~ x1 + x2 + shape, distribution = "gaussian", data = d, n.trees = 50,
                interaction.depth = 2, shrinkage = 0.1, bag.fraction = 1, n.cores = 1)
save_model(fit, "gbm_reg")
nd <- newdata_of(d, rows_per_level(d, "shape"), c("x1", "x2", "shape"))
write_case("gbm_reg.case.json", "gbm_reg", nd, predict(fit, nd, n.trees = 50))

# ---- 12. glmnet_reg ----------------------------------------------------------
set.seed(12)
x <- matrix(rnorm(400), 100, 4, dimnames = list(NULL, paste0("x", 1:4)))
y <- drop(x %*% c(1, -2, 0.5, 0)) + rnorm(100)
fit <- glmnet::glmnet(x, y)
save_model(fit, "glmnet_reg")
newx <- x[1:6, ]
write_case("glmnet_reg.case.json", "glmnet_reg", as.data.frame(newx),
           predict(fit, newx = newx, s = 0.01)[, 1], list(s = 0.01))

# ---- 13. cvglmnet_reg --------------------------------------------------------
# The seed matters here: cv.glmnet draws the fold assignment.
set.seed(13)
x <- matrix(rnorm(400), 100, 4, dimnames = list(NULL, paste0("x", 1:4)))
y <- drop(x %*% c(-1, 0, 1.5, 0.5)) + rnorm(100)
fit <- glmnet::cv.glmnet(x, y, nfolds = 3)
save_model(fit, "cvglmnet_reg")
newx <- x[1:6, ]
write_case("cvglmnet_reg.case.json", "cvglmnet_reg", as.data.frame(newx),
           predict(fit, newx = newx, s = "lambda.1se")[, 1])

# ---- 14. nnet_class ----------------------------------------------------------
set.seed(14)
fit <- nnet::nnet(Species ~ ., data = iris_f, size = 2, trace = FALSE)
save_model(fit, "nnet_class")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
stop_on_ties(predict(fit, nd, type = "raw"))
case_from_predict("nnet_class", fit, nd, list(type = "class"))

# ---- 15. caret_train ---------------------------------------------------------
set.seed(15)
fit <- caret::train(mpg ~ wt + hp + cyl, data = mt, method = "lm",
                    trControl = caret::trainControl(method = "none"))
save_model(fit, "caret_train")
case_from_predict("caret_train", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")))

# ---- 16. loess_reg -----------------------------------------------------------
# speed 30 lies outside the training range (4..25): loess returns NA there.
set.seed(16)
fit <- loess(dist ~ speed, data = cars)
save_model(fit, "loess_reg")
nd <- rbind(newdata_of(cars, c(1, 10, 20, 30, 50), "speed"), data.frame(speed = 30))
case_from_predict("loess_reg", fit, nd)

# ---- 17. nls_reg -------------------------------------------------------------
set.seed(17)
d <- data.frame(x = seq(0, 5, length.out = 30))
d$y <- 2 * exp(0.3 * d$x) + rnorm(30, sd = 0.1)
fit <- nls(y ~ a * exp(b * x), data = d, start = list(a = 1, b = 0.1))
save_model(fit, "nls_reg")
case_from_predict("nls_reg", fit, newdata_of(d, c(1, 6, 12, 18, 24, 30), "x"))

# ---- 18. multi.rda -----------------------------------------------------------
# Two models and a data.frame in one file: the bridge must serve the models
# as multi.first / multi.second and skip notamodel. The glm case keeps R's
# default (link-scale) predictions: args {}.
set.seed(18)
first <- lm(mpg ~ wt + hp, data = mtcars)
second <- glm(am ~ wt, family = binomial, data = mtcars)
notamodel <- head(mtcars)
path <- file.path(outdir, "multi.rda")
save(first, second, notamodel, file = path)
cat("wrote", path, fill = TRUE)
rows <- c(1, 5, 10, 15, 20, 25)
case_from_predict("multi.first", first, newdata_of(mtcars, rows, c("wt", "hp")),
                  file = "multi.first.case.json")
case_from_predict("multi.second", second, newdata_of(mtcars, rows, "wt"),
                  file = "multi.second.case.json")

# ---- 19. ordered_only_lm -----------------------------------------------------
# A one-row request holds one level; the prediction is only right if the
# bridge rebuilds the factor with all three levels in their order.
set.seed(19)
n <- 30
d <- data.frame(grade = factor(sample(c("low", "mid", "high"), n, replace = TRUE),
                               levels = c("low", "mid", "high"), ordered = TRUE))
d$y <- c(low = 1, mid = 2.5, high = 3)[as.character(d$grade)] + rnorm(n, sd = 0.2)
fit <- lm(y ~ grade, data = d)
save_model(fit, "ordered_only_lm")
case_from_predict("ordered_only_lm", fit, newdata_of(d, which(d$grade == "mid")[1], "grade"))
