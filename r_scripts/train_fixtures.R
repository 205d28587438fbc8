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

# predict()'s answer for n rows as what a caller gets: a vector (one value per
# row) or a data.frame (one object per row). The bridge's convention for
# shapes R has no one-row-per-row form for: a matrix is one field per column
# (one column: a plain value); a rows x a x b array is fields "a.b"; a list
# puts each per-row part on the row ("part", or "part.col" for a matrix); a
# one-row call's named vector (R dropped the matrix) is that row's fields.
as_rows <- function(pred, n) {
  if (is.data.frame(pred)) return(pred)
  if (length(dim(pred)) == 3) {
    d <- dimnames(pred)
    pred <- matrix(pred, nrow = dim(pred)[1],
                   dimnames = list(NULL, as.vector(outer(d[[2]], d[[3]], paste, sep = "."))))
  }
  if (length(dim(pred)) == 2) {
    if (ncol(pred) == 1) return(as.vector(pred[, 1]))
    cols <- lapply(seq_len(ncol(pred)), function(j) as.vector(pred[, j]))
    names(cols) <- colnames(pred)
    return(structure(cols, row.names = c(NA_integer_, -nrow(pred)), class = "data.frame"))
  }
  if (is.list(pred)) {
    cols <- list()
    for (part in names(pred)) {
      x <- pred[[part]]
      if (length(dim(x)) == 2 && nrow(x) == n) {
        if (ncol(x) == 1) cols[[part]] <- as.vector(x[, 1])
        else for (j in colnames(x)) cols[[paste(part, j, sep = ".")]] <- as.vector(x[, j])
      } else if (is.null(dim(x)) && length(x) == n && !(part %in% c("df", "residual.scale"))) {
        cols[[part]] <- if (is.factor(x)) as.character(x) else as.vector(x)
      }
    }
    return(structure(cols, row.names = c(NA_integer_, -n), class = "data.frame"))
  }
  if (n == 1 && length(pred) > 1 && !is.null(names(pred))) {
    cols <- as.list(if (is.factor(pred)) as.character(pred) else unname(pred))
    names(cols) <- names(pred)
    return(structure(cols, row.names = c(NA_integer_, -1L), class = "data.frame"))
  }
  if (is.factor(pred)) as.character(pred) else as.vector(pred)
}

json_expected <- function(pred, n) {
  rows <- as_rows(pred, n)
  stopifnot(NROW(rows) == n)
  if (is.data.frame(rows)) return(paste0("[\n    ", paste(json_rows(rows), collapse = ",\n    "), "\n  ]"))
  paste0("[", paste(json_column(rows), collapse = ", "), "]")
}

# The one-row answer, as the one row's JSON value.
json_single <- function(pred) {
  rows <- as_rows(pred, 1)
  stopifnot(NROW(rows) == 1)
  if (is.data.frame(rows)) json_rows(rows) else json_column(rows)
}

json_args <- function(args) {
  if (length(args) == 0) return("{}")
  values <- vapply(args, function(a) {
    v <- json_column(a)
    if (length(v) == 1) v else paste0("[", paste(v, collapse = ", "), "]")
  }, "")
  paste0("{", paste0(json_string(names(args)), ": ", values, collapse = ", "), "}")
}

# Where predict() for a model is defined: the package of its S4 method or
# class, or of the first S3 method R dispatches to.
predict_package <- function(model) {
  if (isS4(model)) return(attr(class(model), "package"))
  for (cls in class(model)) {
    fn <- utils::getS3method("predict", cls, optional = TRUE)
    if (!is.null(fn)) return(environmentName(environment(fn)))
  }
  ""
}

# A case: rows as a caller sends them, R's answer for all rows at once
# (expected) and for each row alone on correctly typed one-row data (single),
# and what the docs' table of verified classes shows about the model.
write_case <- function(file, model, newdata, fun, args = list(), fit = NULL, fitted = "",
                       covers = "") {
  n <- nrow(newdata)
  single <- vapply(seq_len(n), function(i) json_single(fun(newdata[i, , drop = FALSE])), "")
  cls <- if (is.null(fit)) character(0) else class(fit)
  text <- paste0(
    "{\n",
    '  "model": ', json_string(model), ",\n",
    '  "class": [', paste(json_string(cls), collapse = ", "), "],\n",
    '  "fitted_with": ', json_string(fitted), ",\n",
    '  "predict_from": ', json_string(if (is.null(fit)) "" else predict_package(fit)), ",\n",
    '  "covers": ', json_string(covers), ",\n",
    '  "rows": [\n    ', paste(json_rows(newdata), collapse = ",\n    "), "\n  ],\n",
    '  "args": ', json_args(args), ",\n",
    '  "expected": ', json_expected(fun(newdata), n), ",\n",
    '  "single": [\n    ', paste(single, collapse = ",\n    "), "\n  ]\n",
    "}\n")
  path <- file.path(outdir, file)
  con <- file(path, open = "w", encoding = "UTF-8")
  writeLines(enc2utf8(text), con, useBytes = TRUE)
  close(con)
  cat("wrote", path, fill = TRUE)
}

# ---- helpers -----------------------------------------------------------------

save_model <- function(model, name) {
  path <- file.path(outdir, paste0(name, ".rds"))
  saveRDS(model, path)
  cat("wrote", path, fill = TRUE)
}

# The case for the common shape: predict(model, newdata = newdata, <args>),
# through the generic `using` (kernlab's S4 methods hang off its own).
case_from_predict <- function(name, model, newdata, args = list(), file = paste0(name, ".case.json"),
                              fitted = "", covers = "", using = predict) {
  fun <- function(nd) do.call(using, c(list(model, newdata = nd), args))
  write_case(file, name, newdata, fun, args, model, fitted, covers)
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
case_from_predict("lm_factor", fit, rbind(nd, na_rows),
                  fitted = "stats", covers = "factor, ordered factor, integer, NA rows")

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
case_from_predict("lm_types", fit, newdata_of(d, 1:6, c("flag", "day", "count")),
                  fitted = "stats", covers = "logical, Date, integer inputs")

# ---- 3. glm_binomial ---------------------------------------------------------
set.seed(3)
fit <- glm(case ~ age + parity + education + spontaneous + induced,
           family = binomial, data = infert)
save_model(fit, "glm_binomial")
nd <- newdata_of(infert, rows_per_level(infert, "education"),
                 c("age", "parity", "education", "spontaneous", "induced"))
case_from_predict("glm_binomial", fit, nd, list(type = "response"),
                  fitted = "stats", covers = "type = \"response\"")

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
case_from_predict("glm_poisson_offset", fit, nd, list(type = "response"),
                  fitted = "stats", covers = "offset() in the formula")

# ---- 5. randomforest_class (+ _prob) -----------------------------------------
set.seed(5)
fit <- randomForest::randomForest(Species ~ ., data = iris_f, ntree = 25)
save_model(fit, "randomforest_class")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
stopifnot(nlevels(droplevels(nd$soil)) == 3)
stop_on_ties(predict(fit, nd, type = "prob"))
case_from_predict("randomforest_class", fit, nd,
                  fitted = "randomForest", covers = "class labels")
case_from_predict("randomforest_class", fit, nd, list(type = "prob"),
                  file = "randomforest_class_prob.case.json",
                  fitted = "randomForest", covers = "probabilities (type = \"prob\")")

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
           function(nd) predict(fit, data = nd, num.threads = 1)$predictions, fit = fit,
           fitted = "ranger", covers = "ptype attribute, factor levels not alphabetical")

# ---- 7. ranger_class_prob ----------------------------------------------------
# Same reason as ranger_reg for the ptype: soil's levels live nowhere else.
set.seed(7)
fit <- ranger::ranger(Species ~ ., data = iris_f, probability = TRUE,
                      num.trees = 20, num.threads = 1)
fit <- attach_ptype(fit, iris_f, cols = fit$forest$independent.variable.names)
save_model(fit, "ranger_class_prob")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
write_case("ranger_class_prob.case.json", "ranger_class_prob", nd,
           function(nd) predict(fit, data = nd, num.threads = 1)$predictions, fit = fit,
           fitted = "ranger", covers = "probabilities")

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
case_from_predict("rpart_class", fit, nd, list(type = "class"),
                  fitted = "rpart", covers = "NA input routed by surrogates")

# ---- 9. svm_ptype ------------------------------------------------------------
set.seed(9)
fit <- attach_ptype(e1071::svm(mpg ~ wt + hp + cyl, data = mt), mt)
save_model(fit, "svm_ptype")
case_from_predict("svm_ptype", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")),
                  fitted = "e1071", covers = "ptype attribute")

# ---- 10. gam_mgcv ------------------------------------------------------------
set.seed(10)
n <- 100
d <- data.frame(x = runif(n, 0, 10),
                group = factor(sample(c("a", "b", "c"), n, replace = TRUE)))
d$y <- sin(d$x) + c(a = 0, b = 1, c = -1)[as.character(d$group)] + rnorm(n, sd = 0.3)
fit <- mgcv::gam(y ~ s(x) + group, data = d)
save_model(fit, "gam_mgcv")
case_from_predict("gam_mgcv", fit, newdata_of(d, rows_per_level(d, "group"), c("x", "group")),
                  fitted = "mgcv", covers = "s() smooth")

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
write_case("gbm_reg.case.json", "gbm_reg", nd, function(nd) predict(fit, nd, n.trees = 50),
           fit = fit, fitted = "gbm", covers = "n.trees supplied by the bridge")

# ---- 12. glmnet_reg ----------------------------------------------------------
set.seed(12)
x <- matrix(rnorm(400), 100, 4, dimnames = list(NULL, paste0("x", 1:4)))
y <- drop(x %*% c(1, -2, 0.5, 0)) + rnorm(100)
fit <- glmnet::glmnet(x, y)
save_model(fit, "glmnet_reg")
newx <- x[1:6, ]
write_case("glmnet_reg.case.json", "glmnet_reg", as.data.frame(newx),
           function(nd) predict(fit, newx = as.matrix(nd), s = 0.01)[, 1], list(s = 0.01),
           fit = fit, fitted = "glmnet", covers = "matrix input (newx)")

# ---- 13. cvglmnet_reg --------------------------------------------------------
# The seed matters here: cv.glmnet draws the fold assignment.
set.seed(13)
x <- matrix(rnorm(400), 100, 4, dimnames = list(NULL, paste0("x", 1:4)))
y <- drop(x %*% c(-1, 0, 1.5, 0.5)) + rnorm(100)
fit <- glmnet::cv.glmnet(x, y, nfolds = 3)
save_model(fit, "cvglmnet_reg")
newx <- x[1:6, ]
write_case("cvglmnet_reg.case.json", "cvglmnet_reg", as.data.frame(newx),
           function(nd) predict(fit, newx = as.matrix(nd), s = "lambda.1se")[, 1],
           fit = fit, fitted = "glmnet")

# ---- 14. nnet_class ----------------------------------------------------------
set.seed(14)
fit <- nnet::nnet(Species ~ ., data = iris_f, size = 2, trace = FALSE)
save_model(fit, "nnet_class")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
stop_on_ties(predict(fit, nd, type = "raw"))
case_from_predict("nnet_class", fit, nd, list(type = "class"),
                  fitted = "nnet", covers = "type = \"class\"")

# ---- 15. caret_train ---------------------------------------------------------
set.seed(15)
fit <- caret::train(mpg ~ wt + hp + cyl, data = mt, method = "lm",
                    trControl = caret::trainControl(method = "none"))
save_model(fit, "caret_train")
case_from_predict("caret_train", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")),
                  fitted = "caret", covers = "")

# ---- 16. loess_reg -----------------------------------------------------------
# speed 30 lies outside the training range (4..25): loess returns NA there.
set.seed(16)
fit <- loess(dist ~ speed, data = cars)
save_model(fit, "loess_reg")
nd <- rbind(newdata_of(cars, c(1, 10, 20, 30, 50), "speed"), data.frame(speed = 30))
case_from_predict("loess_reg", fit, nd,
                  fitted = "stats", covers = "NA outside the training range")

# ---- 17. nls_reg -------------------------------------------------------------
set.seed(17)
d <- data.frame(x = seq(0, 5, length.out = 30))
d$y <- 2 * exp(0.3 * d$x) + rnorm(30, sd = 0.1)
fit <- nls(y ~ a * exp(b * x), data = d, start = list(a = 1, b = 0.1))
save_model(fit, "nls_reg")
case_from_predict("nls_reg", fit, newdata_of(d, c(1, 6, 12, 18, 24, 30), "x"),
                  fitted = "stats", covers = "parameters are not inputs")

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
                  file = "multi.first.case.json",
                  fitted = "stats", covers = "several models in one .rda")
case_from_predict("multi.second", second, newdata_of(mtcars, rows, "wt"),
                  file = "multi.second.case.json",
                  fitted = "stats", covers = "several models in one .rda")

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
case_from_predict("ordered_only_lm", fit, newdata_of(d, which(d$grade == "mid")[1], "grade"),
                  fitted = "stats", covers = "one row holding one level of an ordered factor")

# ==== the wider matrix: every class a data scientist would save ===============
# Each case is fitted on a data set shipped with R or the package, and its
# newdata is typed as in training; R's own predict() gives the answers.

# ---- 20. polr (MASS): labels and class probabilities -------------------------
# One-row probabilities are where R drops the matrix to a named vector.
set.seed(20)
housing <- MASS::housing
fit <- MASS::polr(Sat ~ Infl + Type + Cont, weights = Freq, data = housing)
save_model(fit, "polr_housing")
nd <- newdata_of(housing, c(1, 10, 20, 30, 40, 50, 60, 70), c("Infl", "Type", "Cont"))
case_from_predict("polr_housing", fit, nd, fitted = "MASS", covers = "ordered response, weights")
case_from_predict("polr_housing", fit, nd, list(type = "probs"), file = "polr_housing_probs.case.json",
                  fitted = "MASS", covers = "class probabilities; one row is a named vector in R")

# ---- 21. lda / 22. qda (MASS): a list of class, posterior and scores ---------
set.seed(21)
fit <- MASS::lda(Species ~ ., data = iris_f)
save_model(fit, "lda_iris")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
case_from_predict("lda_iris", fit, nd, fitted = "MASS", covers = "list result: class, posterior, x")
fit <- MASS::qda(Species ~ Sepal.Length + Sepal.Width + Petal.Length + Petal.Width, data = iris)
save_model(fit, "qda_iris")
case_from_predict("qda_iris", fit, newdata_of(iris, iris_rows, names(iris)[1:4]),
                  fitted = "MASS", covers = "list result: class, posterior")

# ---- 23. glm.nb / 24. rlm (MASS) ---------------------------------------------
set.seed(23)
quine <- MASS::quine
fit <- MASS::glm.nb(Days ~ Eth + Sex + Age + Lrn, data = quine)
save_model(fit, "glmnb_quine")
case_from_predict("glmnb_quine", fit, newdata_of(quine, rows_per_level(quine, "Age"), c("Eth", "Sex", "Age", "Lrn")),
                  list(type = "response"), fitted = "MASS", covers = "negative binomial, response scale")
fit <- MASS::rlm(stack.loss ~ Air.Flow + Water.Temp + Acid.Conc., data = stackloss)
save_model(fit, "rlm_stackloss")
case_from_predict("rlm_stackloss", fit, newdata_of(stackloss, c(1, 5, 9, 13, 17, 21), 1:3),
                  fitted = "MASS", covers = "names with dots")

# ---- 25. coxph / 26. survreg (survival) --------------------------------------
# strata() is survival's: the bridge must attach survival for model.frame()
# to find it, as library(survival) did at training time.
set.seed(25)
lung <- survival::lung
lung$sex <- factor(lung$sex, labels = c("male", "female"))
library(survival)
# model = TRUE: with strata, predict.coxph needs the training frame, which it
# would otherwise rebuild from a `lung` found wherever it is predicted.
fit <- coxph(Surv(time, status) ~ age + sex + strata(ph.ecog), data = lung, model = TRUE)
save_model(fit, "coxph_lung")
cc <- lung[stats::complete.cases(lung[c("age", "sex", "ph.ecog")]), ]
nd <- newdata_of(cc, c(1, 2, 3, 5, 8, 13), c("age", "sex", "ph.ecog"))
case_from_predict("coxph_lung", fit, nd, list(type = "risk"), fitted = "survival",
                  covers = "strata() from survival in the formula")
fit <- survreg(Surv(time, status) ~ age + sex, data = lung, dist = "weibull")
save_model(fit, "survreg_lung")
case_from_predict("survreg_lung", fit, newdata_of(lung, c(1, 4, 9, 16, 25, 36), c("age", "sex")),
                  list(type = "response"), fitted = "survival", covers = "Weibull, response scale")
detach("package:survival")

# ---- 27. gls / 28. lme (nlme) ------------------------------------------------
# gls: factor() of a numeric column, levels kept only as contrast matrix rows.
# lme: the grouping factor is an input though the fixed formula lacks it.
set.seed(27)
fit <- nlme::gls(mpg ~ wt + factor(cyl), data = mtcars, correlation = nlme::corAR1())
save_model(fit, "gls_mtcars")
# Sent as the labels of factor(cyl): R's answer is the same for the numbers.
nd <- newdata_of(mtcars, c(1, 3, 5, 8, 19, 30), c("wt", "cyl"))
stopifnot(identical(predict(fit, nd), predict(fit, transform(nd, cyl = as.character(cyl)))))
nd$cyl <- as.character(nd$cyl)
case_from_predict("gls_mtcars", fit, nd, fitted = "nlme", covers = "factor() of a numeric column")
orth <- as.data.frame(nlme::Orthodont)
fit <- nlme::lme(distance ~ age + Sex, random = ~ 1 | Subject, data = orth)
save_model(fit, "lme_orthodont")
case_from_predict("lme_orthodont", fit, newdata_of(orth, c(1, 10, 30, 50, 70, 100), c("age", "Sex", "Subject")),
                  fitted = "nlme", covers = "grouping factor of the random effects")

# ---- 29. lmer / 30. glmer (lme4, S4 merMod) ----------------------------------
set.seed(29)
sleep <- lme4::sleepstudy
fit <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleep)
save_model(fit, "lmer_sleep")
case_from_predict("lmer_sleep", fit, newdata_of(sleep, c(1, 15, 40, 77, 120, 180), c("Days", "Subject")),
                  fitted = "lme4", covers = "S4 class, random-effect grouping factor")
cbpp <- lme4::cbpp
fit <- lme4::glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial)
save_model(fit, "glmer_cbpp")
case_from_predict("glmer_cbpp", fit, newdata_of(cbpp, c(1, 6, 11, 20, 33, 50), c("period", "herd")),
                  list(type = "response"), fitted = "lme4", covers = "S4 class, binomial, response scale")

# ---- 31. ksvm / 32. gausspr (kernlab, S4 methods) ---------------------------
# kernlab's predict is an S4 method of kernlab's own generic: stats::predict
# does not reach it.
set.seed(31)
fit <- kernlab::ksvm(Species ~ ., data = iris, prob.model = TRUE)
save_model(fit, "ksvm_iris")
nd <- newdata_of(iris, iris_rows, names(iris)[1:4])
case_from_predict("ksvm_iris", fit, nd, fitted = "kernlab", covers = "S4 generic, class labels", using = kernlab::predict)
case_from_predict("ksvm_iris", fit, nd, list(type = "probabilities"), file = "ksvm_iris_probs.case.json",
                  fitted = "kernlab", covers = "S4 generic, probabilities", using = kernlab::predict)
set.seed(32)
fit <- kernlab::gausspr(mpg ~ wt + hp, data = mtcars, kpar = list(sigma = 0.1))
save_model(fit, "gausspr_mtcars")
case_from_predict("gausspr_mtcars", fit, newdata_of(mtcars, c(1, 5, 9, 14, 20, 28), c("wt", "hp")),
                  fitted = "kernlab", covers = "S4 generic, regression", using = kernlab::predict)

# ---- 33. earth -----------------------------------------------------------------
set.seed(33)
fit <- earth::earth(mpg ~ wt + hp + cyl, data = mt)
save_model(fit, "earth_mtcars")
case_from_predict("earth_mtcars", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")),
                  fitted = "earth", covers = "one-column matrix result")

# ---- 34. ctree / 35. cforest (partykit) --------------------------------------
set.seed(34)
fit <- partykit::ctree(Species ~ ., data = iris_f)
save_model(fit, "ctree_iris")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
case_from_predict("ctree_iris", fit, nd, fitted = "partykit", covers = "class labels")
case_from_predict("ctree_iris", fit, nd, list(type = "prob"), file = "ctree_iris_prob.case.json",
                  fitted = "partykit", covers = "probabilities")
set.seed(35)
fit <- partykit::cforest(mpg ~ wt + hp + cyl, data = mt, ntree = 20)
save_model(fit, "cforest_mtcars")
case_from_predict("cforest_mtcars", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")),
                  fitted = "partykit", covers = "forest of conditional trees")

# ---- 36. plsr (pls) ------------------------------------------------------------
# predict.mvr answers a rows x responses x components array.
set.seed(36)
fit <- pls::plsr(mpg ~ wt + hp + disp + cyl, data = mt, ncomp = 3)
save_model(fit, "plsr_mtcars")
case_from_predict("plsr_mtcars", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "disp", "cyl")),
                  fitted = "pls", covers = "3-d array result (one field per component)")

# ---- 37. rq / 38. rqs (quantreg) -----------------------------------------------
set.seed(37)
fit <- quantreg::rq(mpg ~ wt + cyl, data = mt, tau = 0.5)
save_model(fit, "rq_mtcars")
nd <- newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "cyl"))
case_from_predict("rq_mtcars", fit, nd, fitted = "quantreg", covers = "median")
fit <- quantreg::rq(mpg ~ wt + cyl, data = mt, tau = c(0.25, 0.5, 0.75))
save_model(fit, "rqs_mtcars")
case_from_predict("rqs_mtcars", fit, nd, fitted = "quantreg", covers = "several taus: one field per tau")

# ---- 39. zeroinfl / 40. hurdle (pscl) ----------------------------------------
set.seed(39)
bio <- pscl::bioChemists
fit <- pscl::zeroinfl(art ~ fem + mar + kid5 + ment | ment, data = bio)
save_model(fit, "zeroinfl_bio")
nd <- newdata_of(bio, c(1, 100, 300, 500, 700, 900), c("fem", "mar", "kid5", "ment"))
case_from_predict("zeroinfl_bio", fit, nd, fitted = "pscl", covers = "two-part formula")
fit <- pscl::hurdle(art ~ fem + mar + kid5 + ment, data = bio, dist = "negbin")
save_model(fit, "hurdle_bio")
case_from_predict("hurdle_bio", fit, nd, list(type = "zero"), fitted = "pscl", covers = "type = \"zero\"")

# ---- 41. clm (ordinal) ---------------------------------------------------------
set.seed(41)
wine <- ordinal::wine
fit <- ordinal::clm(rating ~ temp + contact, data = wine)
save_model(fit, "clm_wine")
nd <- newdata_of(wine, c(1, 3, 5, 7, 9, 11), c("temp", "contact"))
case_from_predict("clm_wine", fit, nd, list(type = "prob"), file = "clm_wine_prob.case.json",
                  fitted = "ordinal", covers = "probabilities (a list holding a matrix)")
case_from_predict("clm_wine", fit, nd, list(type = "class"),
                  fitted = "ordinal", covers = "class (a list holding a factor)")

# ---- 42. naiveBayes (e1071) ----------------------------------------------------
# Its categorical levels are kept only as the columns of its tables.
set.seed(42)
fit <- e1071::naiveBayes(Species ~ ., data = iris_f)
save_model(fit, "naivebayes_iris")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
case_from_predict("naivebayes_iris", fit, nd, fitted = "e1071", covers = "levels from the model's tables")
case_from_predict("naivebayes_iris", fit, nd, list(type = "raw"), file = "naivebayes_iris_raw.case.json",
                  fitted = "e1071", covers = "probabilities")

# ---- 43. svm without a ptype (e1071) -------------------------------------------
# Numeric inputs need no record of levels; svm_factor (no case) has a factor
# input it keeps no levels for, which the bridge must refuse, not guess.
set.seed(43)
fit <- e1071::svm(Species ~ ., data = iris, probability = TRUE)
save_model(fit, "svm_noptype")
case_from_predict("svm_noptype", fit, newdata_of(iris, iris_rows, names(iris)[1:4]),
                  fitted = "e1071", covers = "no ptype, numeric inputs")
save_model(e1071::svm(mpg ~ wt + hp + cyl, data = mt), "svm_factor")

# ---- 44. multinom (nnet) -------------------------------------------------------
set.seed(44)
fit <- nnet::multinom(Species ~ ., data = iris_f, trace = FALSE)
save_model(fit, "multinom_iris")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
case_from_predict("multinom_iris", fit, nd, fitted = "nnet", covers = "class labels")
case_from_predict("multinom_iris", fit, nd, list(type = "probs"), file = "multinom_iris_probs.case.json",
                  fitted = "nnet", covers = "probabilities; one row is a named vector in R")

# ---- 45. gam with te() and by-factor smooths / 46. bam (mgcv) ----------------
set.seed(45)
n <- 300
d <- data.frame(x = runif(n), z = runif(n),
                g = factor(sample(c("left", "right"), n, replace = TRUE)))
d$y <- sin(3 * d$x) * d$z + ifelse(d$g == "left", d$x, -d$x) + rnorm(n, sd = 0.1)
fit <- mgcv::gam(y ~ te(x, z, k = 4) + s(x, by = g, k = 5) + g, data = d)
save_model(fit, "gam_te_by")
nd <- newdata_of(d, rows_per_level(d, "g", 3), c("x", "z", "g"))
case_from_predict("gam_te_by", fit, nd, fitted = "mgcv", covers = "te() and a by-factor smooth")
fit <- mgcv::bam(y ~ s(x, k = 5) + s(z, k = 5) + g, data = d)
save_model(fit, "bam_smooth")
case_from_predict("bam_smooth", fit, nd, fitted = "mgcv", covers = "big additive model")

# ---- 47. lm with formula transforms and weights --------------------------------
# ns() and bs() are splines'; the bridge must find them without library().
set.seed(47)
n <- 120
d <- data.frame(x = runif(n, 1, 10), z = runif(n), w = runif(n, 0.5, 2),
                g = factor(sample(c("a", "b", "c"), n, replace = TRUE)))
d$y <- log(d$x) + d$z^2 + c(a = 0, b = 1, c = 2)[as.character(d$g)] * d$z + rnorm(n, sd = 0.1)
fit <- lm(y ~ splines::ns(x, 3) + poly(z, 2) + I(z^3) + log(x) + relevel(g, ref = "b") * z,
          data = d, weights = w)
save_model(fit, "lm_transforms")
nd <- newdata_of(d, rows_per_level(d, "g"), c("x", "z", "g"))
case_from_predict("lm_transforms", fit, nd, fitted = "stats",
                  covers = "ns(), poly(), I(), log(), relevel(), interaction, weights")
library(splines)
fit <- glm(y ~ ns(x, df = 3) + bs(z, df = 4) + g, data = d, family = gaussian)
save_model(fit, "glm_splines")
case_from_predict("glm_splines", fit, nd, fitted = "stats", covers = "ns(), bs() without splines::")
detach("package:splines")

# ---- 48. glm with an offset argument -------------------------------------------
set.seed(48)
n <- 80
d <- data.frame(x = runif(n), exposure = runif(n, 1, 10))
d$events <- rpois(n, d$exposure * exp(-1 + d$x))
fit <- glm(events ~ x, offset = log(exposure), family = poisson, data = d)
save_model(fit, "glm_offset_arg")
case_from_predict("glm_offset_arg", fit, newdata_of(d, 1:6, c("x", "exposure")), list(type = "response"),
                  fitted = "stats", covers = "offset = argument")

# ---- 49. names and levels that need quoting, NA rows with na.exclude ---------
set.seed(49)
n <- 60
trims <- c("base, plain", "say \"hi\"", "c'est la vie")
d <- data.frame(`fuel economy` = runif(n, 10, 30), wt.lbs = runif(n, 2, 5),
                check.names = FALSE)
d[["gr\u00f6\u00dfe"]] <- runif(n)
d$trim <- factor(sample(trims, n, replace = TRUE), levels = trims)
d$y <- 0.5 * d$`fuel economy` - d$wt.lbs + d[["gr\u00f6\u00dfe"]] + as.integer(d$trim) + rnorm(n)
d$wt.lbs[c(3, 7)] <- NA
f <- as.formula(sprintf("y ~ `fuel economy` + log(wt.lbs) + `%s` + trim", "gr\u00f6\u00dfe"))
fit <- lm(f, data = d, na.action = na.exclude)
save_model(fit, "lm_names")
nd <- newdata_of(d, c(1, 2, 3, 4, 5, 6, 7, 8), c("fuel economy", "wt.lbs", "gr\u00f6\u00dfe", "trim"))
case_from_predict("lm_names", fit, nd, fitted = "stats",
                  covers = "names with spaces, dots, non-ASCII; levels with commas and quotes; na.exclude")

# ---- 50. multivariate lm (mlm) / 51. prcomp / 52. lqs / 53. knn3 / 54. bagging
set.seed(50)
fit <- lm(cbind(mpg, qsec) ~ wt + hp, data = mtcars)
save_model(fit, "mlm_mtcars")
nd <- newdata_of(mtcars, c(1, 5, 9, 14, 20, 28), c("wt", "hp"))
case_from_predict("mlm_mtcars", fit, nd, fitted = "stats", covers = "two responses: one field each")
fit <- prcomp(~ mpg + wt + hp + qsec, data = mtcars, scale. = TRUE)
save_model(fit, "prcomp_mtcars")
case_from_predict("prcomp_mtcars", fit, newdata_of(mtcars, c(1, 5, 9, 14, 20, 28), c("mpg", "wt", "hp", "qsec")),
                  fitted = "stats", covers = "principal component scores")
set.seed(52)
fit <- MASS::lqs(stack.loss ~ ., data = stackloss, method = "lms")
save_model(fit, "lqs_stackloss")
case_from_predict("lqs_stackloss", fit, newdata_of(stackloss, c(2, 6, 10, 14, 18), 1:3),
                  fitted = "MASS", covers = "resistant regression")
set.seed(53)
fit <- caret::knn3(Species ~ ., data = iris, k = 7)
save_model(fit, "knn3_iris")
case_from_predict("knn3_iris", fit, newdata_of(iris, c(1, 52, 103, 120, 140, 150), names(iris)[1:4]),
                  fitted = "caret", covers = "k-nearest-neighbour probabilities")
set.seed(54)
fit <- ipred::bagging(mpg ~ wt + hp + cyl, data = mt, nbagg = 10, coob = FALSE)
save_model(fit, "bagging_mtcars")
case_from_predict("bagging_mtcars", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")),
                  fitted = "ipred", covers = "bagged regression trees")

# ---- 55. an .RData holding one model and data -----------------------------------
# Only the model is served, under the file's stem: the data frame, the plain
# list and the vector are not models, whatever predict methods exist.
set.seed(55)
model <- lm(mpg ~ wt + hp, data = mtcars)
training <- mtcars
settings <- list(alpha = 0.5, note = "kept beside the model")
cutoffs <- c(low = 15, high = 25)
path <- file.path(outdir, "workspace.RData")
save(model, training, settings, cutoffs, file = path)
cat("wrote", path, fill = TRUE)
case_from_predict("workspace", model, newdata_of(mtcars, c(2, 4, 6, 8, 10, 12), c("wt", "hp")),
                  fitted = "stats", covers = "an .RData with a model, a data frame, a list and a vector")

# ==== The models people fit today (issue 23) ====================================
# Each of these was refused or a 500 where R answers: caret through a recipe,
# data arguments other than newdata, types kept in S4 slots or a history,
# packages that export the same names, a model saved beside its data.

# ---- 56. caret through a recipe (recipes; an ID role, dummies, scaling) --------
# Only the predictors are inputs: the outcome and the ID column are not sent.
# recipes needs the ID column to bake, not to predict: R's answer is the same
# whatever it holds, so R's side gets a constant.
set.seed(56)
mt_id <- transform(mt, car = seq_len(nrow(mt)))
rec <- recipes::recipe(mpg ~ wt + hp + cyl + car, data = mt_id)
rec <- recipes::update_role(rec, car, new_role = "ID")
rec <- recipes::step_dummy(rec, cyl)
rec <- recipes::step_normalize(rec, recipes::all_numeric_predictors())
fit <- caret::train(rec, data = mt_id, method = "lm", trControl = caret::trainControl(method = "none"))
save_model(fit, "caret_recipe")
nd <- newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl"))
with_id <- function(nd) transform(nd, car = 0L)
stopifnot(isTRUE(all.equal(predict(fit, with_id(nd)), predict(fit, transform(nd, car = 99L)))))
write_case("caret_recipe.case.json", "caret_recipe", nd, function(nd) predict(fit, with_id(nd)),
           fit = fit, fitted = "caret, recipes",
           covers = "recipe roles: outcome and ID not inputs; step_dummy, step_normalize")

# ---- 57. caret through a recipe, class probabilities ---------------------------
set.seed(57)
rec <- recipes::recipe(Species ~ ., data = iris_f)
rec <- recipes::step_dummy(rec, soil)
rec <- recipes::step_center(rec, recipes::all_numeric_predictors())
fit <- caret::train(rec, data = iris_f, method = "multinom", trace = FALSE,
                    trControl = caret::trainControl(method = "none"), tuneGrid = data.frame(decay = 0.1))
save_model(fit, "caret_recipe_prob")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
case_from_predict("caret_recipe_prob", fit, nd, list(type = "prob"), fitted = "caret, recipes, nnet",
                  covers = "recipe levels not alphabetical; probabilities")

# ---- 58. glmnet on a model.matrix, R's default s (every lambda) ---------------
set.seed(58)
x <- model.matrix(~ wt + hp + cyl, data = mt)[, -1]
fit <- glmnet::glmnet(x, mt$mpg, nlambda = 8)
save_model(fit, "glmnet_mm")
write_case("glmnet_mm.case.json", "glmnet_mm", as.data.frame(x[c(1, 3, 5, 7, 19, 29), ]),
           function(nd) predict(fit, newx = as.matrix(nd)), fit = fit, fitted = "glmnet",
           covers = "model.matrix columns as inputs; one field per lambda (R's default s)")

# ---- 59. cv.glmnet, binomial, response scale ----------------------------------
set.seed(59)
x <- as.matrix(mtcars[, c("wt", "hp", "disp", "qsec")])
fit <- glmnet::cv.glmnet(x, mtcars$am, family = "binomial", nfolds = 4)
save_model(fit, "cvglmnet_binomial")
write_case("cvglmnet_binomial.case.json", "cvglmnet_binomial",
           newdata_of(mtcars, c(1, 5, 9, 14, 20, 28), colnames(x)),
           function(nd) predict(fit, newx = as.matrix(nd), type = "response"),
           list(type = "response"), fit = fit, fitted = "glmnet", covers = "newx from the request's columns")

# ---- 60. smooth.spline: predicts from x=, answers list(x, y) -------------------
set.seed(60)
fit <- smooth.spline(cars$speed, cars$dist, df = 5)
save_model(fit, "smooth_spline")
nd <- data.frame(x = c(4, 7.5, 12, 18.25, 25, 30))
write_case("smooth_spline.case.json", "smooth_spline", nd, function(nd) predict(fit, x = nd$x),
           fit = fit, fitted = "stats", covers = "x = argument; list(x, y) is one row per input row")

# ---- 61. party's S4 ctree (inputs in a ModelEnv) / 62. its regression ---------
set.seed(61)
fit <- party::ctree(Species ~ ., data = iris_f)
save_model(fit, "party_ctree")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
case_from_predict("party_ctree", fit, nd, fitted = "party", covers = "S4; inputs in its ModelEnv data slot")
set.seed(62)
fit <- party::ctree(mpg ~ wt + hp + cyl + power, data = mt)
save_model(fit, "party_ctree_reg")
case_from_predict("party_ctree_reg", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl", "power")),
                  fitted = "party", covers = "S4; factor and ordered inputs from its data slot")

# ---- 63. mda: fda with mars, and mars on a matrix ------------------------------
set.seed(63)
fit <- mda::fda(Species ~ ., data = iris, method = mda::mars)
save_model(fit, "fda_mars")
case_from_predict("fda_mars", fit, newdata_of(iris, iris_rows, names(iris)[1:4]), fitted = "mda",
                  covers = "flexible discriminant analysis by MARS")
fit <- mda::mars(as.matrix(mtcars[, c("wt", "hp", "disp")]), mtcars$mpg, degree = 2)
save_model(fit, "mars_matrix")
nd <- newdata_of(mtcars, c(1, 5, 9, 14, 20, 28), c("wt", "hp", "disp"))
write_case("mars_matrix.case.json", "mars_matrix", nd, function(nd) predict(fit, as.matrix(nd)),
           fit = fit, fitted = "mda", covers = "fitted on a matrix: newdata as a numeric matrix")

# ---- 64. mclust: MclustDA on a matrix ------------------------------------------
set.seed(64)
library(mclust)
fit <- MclustDA(iris[, 1:4], iris$Species, modelType = "EDDA", verbose = FALSE)
detach("package:mclust")
save_model(fit, "mclustda_iris")
case_from_predict("mclustda_iris", fit, newdata_of(iris, iris_rows, names(iris)[1:4]), fitted = "mclust",
                  covers = "fitted on a matrix; list(classification, z)")

# ---- 65. Hastie's gam, whose s() and lo() mgcv's s() would shadow ------------
# Fitted with gam attached, as its users do; the bridge must find gam's s()
# for this model and mgcv's for gam_mgcv, in whichever order they load.
set.seed(65)
library(gam)
fit <- gam(mpg ~ s(wt, 3) + lo(hp) + cyl, data = mt)
save_model(fit, "gam_hastie")
case_from_predict("gam_hastie", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")),
                  fitted = "gam", covers = "s() and lo() of gam, not mgcv")
detach("package:gam")

# ---- 66. brglm2: bias-reduced glm, and multinomial ----------------------------
set.seed(66)
fit <- glm(case ~ age + parity + education + spontaneous + induced, family = binomial,
           data = infert, method = brglm2::brglmFit)
save_model(fit, "brglm_infert")
nd <- newdata_of(infert, rows_per_level(infert, "education"),
                 c("age", "parity", "education", "spontaneous", "induced"))
case_from_predict("brglm_infert", fit, nd, list(type = "response"), fitted = "brglm2",
                  covers = "method = brglmFit")
# (On wine, not iris: iris's separable classes take brmultinom 10 s.)
fit <- brglm2::brmultinom(rating ~ temp + contact, data = wine)
save_model(fit, "brmultinom_wine")
case_from_predict("brmultinom_wine", fit, newdata_of(wine, c(1, 3, 5, 7, 9, 11), c("temp", "contact")),
                  list(type = "probs"), fitted = "brglm2", covers = "probabilities")

# ---- 67. rstanarm by optimisation ----------------------------------------------
# algorithm = "optimizing" gives a point estimate: predict() is deterministic.
set.seed(67)
fit <- rstanarm::stan_glm(mpg ~ wt + hp + cyl, data = mt, algorithm = "optimizing", seed = 67,
                          refresh = 0)
save_model(fit, "stan_glm_opt")
case_from_predict("stan_glm_opt", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")),
                  fitted = "rstanarm", covers = "algorithm = \"optimizing\"")

# ---- 68. prophet: ds is the date-time of its history --------------------------
# uncertainty.samples = 0: no simulated intervals, so R's answer is exact.
set.seed(68)
days <- seq(as.Date("2023-01-01"), by = "day", length.out = 120)
hist <- data.frame(ds = days, y = 10 + sin(seq_along(days) / 7 * 2 * pi) + seq_along(days) / 30,
                   promo = rep(c(0, 0, 1), 40))
fit <- prophet::prophet(daily.seasonality = FALSE, yearly.seasonality = FALSE,
                        uncertainty.samples = 0)
fit <- prophet::add_regressor(fit, "promo")
fit <- prophet::fit.prophet(fit, hist)
save_model(fit, "prophet_promo")
nd <- data.frame(ds = as.POSIXct(format(days[c(10, 60)]), tz = "GMT") + 0, promo = c(0, 1))
nd <- rbind(nd, data.frame(ds = as.POSIXct("2023-05-15", tz = "GMT") + 86400 * 0:3, promo = c(1, 0, 0, 1)))
# predict.prophet takes its rows as df = (newdata would fall into its ...).
write_case("prophet_promo.case.json", "prophet_promo", nd, function(nd) predict(fit, df = nd), fit = fit,
           fitted = "prophet", covers = "df = argument; ds a date-time from its history; an extra regressor")

# ---- 69. survival: survreg and coxph with strata() -----------------------------
set.seed(69)
library(survival)
fit <- survreg(Surv(time, status) ~ age + ph.ecog + strata(sex), data = lung, dist = "weibull")
save_model(fit, "survreg_strata")
nd <- newdata_of(cc, c(1, 2, 3, 5, 8, 13), c("age", "ph.ecog", "sex"))
case_from_predict("survreg_strata", fit, nd, list(type = "lp"), fitted = "survival",
                  covers = "strata(): a scale per stratum")
fit <- coxph(Surv(time, status) ~ age + sex + strata(ph.ecog), data = lung, model = TRUE)
save_model(fit, "coxph_strata_lp")
case_from_predict("coxph_strata_lp", fit, nd, list(type = "lp"), fitted = "survival",
                  covers = "strata(), linear predictor")
detach("package:survival")

# ---- 70. gbm bernoulli, response scale / 71. nnet regression ------------------
set.seed(70)
d <- transform(mtcars, cyl = factor(cyl))
fit <- gbm::gbm(am ~ wt + hp + cyl, distribution = "bernoulli", data = d, n.trees = 40,
                interaction.depth = 2, shrinkage = 0.1, bag.fraction = 1, n.minobsinnode = 3, n.cores = 1)
save_model(fit, "gbm_bernoulli")
nd <- newdata_of(d, rows_per_level(d, "cyl"), c("wt", "hp", "cyl"))
write_case("gbm_bernoulli.case.json", "gbm_bernoulli", nd,
           function(nd) predict(fit, nd, n.trees = 40, type = "response"), list(type = "response"),
           fit = fit, fitted = "gbm", covers = "bernoulli, response scale")
set.seed(71)
fit <- nnet::nnet(mpg ~ wt + hp + cyl, data = mt, size = 3, linout = TRUE, decay = 0.01,
                  trace = FALSE, maxit = 200)
save_model(fit, "nnet_reg")
case_from_predict("nnet_reg", fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")),
                  fitted = "nnet", covers = "regression (linout) with a factor input")

# ---- 72. a model saved beside its data ------------------------------------------
# svm keeps no levels for cyl; the .rda holds the data frame its call names,
# which records them.
set.seed(72)
cars_train <- mt[, c("mpg", "wt", "hp", "cyl")]
svm_fit <- e1071::svm(mpg ~ wt + hp + cyl, data = cars_train)
path <- file.path(outdir, "svm_with_data.rda")
save(svm_fit, cars_train, file = path)
cat("wrote", path, fill = TRUE)
case_from_predict("svm_with_data", svm_fit, newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl")),
                  fitted = "e1071", covers = "types from the data frame its call names, saved in the same file")

# ---- 73. party's class probabilities: a list with one vector per row ----------
set.seed(73)
fit <- party::ctree(Species ~ ., data = iris_f)
save_model(fit, "party_ctree_prob")
nd <- newdata_of(iris_f, iris_rows, setdiff(names(iris_f), "Species"))
# R answers list(row 1's probabilities, row 2's, ...), unnamed: one row
# each, fields "1", "2", "3" (the bridge's names for unnamed columns).
prob_rows <- function(p) {
  m <- do.call(rbind, p)
  colnames(m) <- as.character(seq_len(ncol(m)))
  m
}
write_case("party_ctree_prob.case.json", "party_ctree_prob", nd,
           function(nd) prob_rows(predict(fit, newdata = nd, type = "prob")), list(type = "prob"),
           fit = fit, fitted = "party", covers = "a list of one probability vector per row")

# ---- 74. mclust clustering / 75. glmnet multinomial ---------------------------
set.seed(74)
library(mclust)
fit <- Mclust(iris[, 1:4], G = 3, modelNames = "VEV", verbose = FALSE)
detach("package:mclust")
save_model(fit, "mclust_iris")
case_from_predict("mclust_iris", fit, newdata_of(iris, iris_rows, names(iris)[1:4]), fitted = "mclust",
                  covers = "clusters of a matrix fit; list(classification, z)")
set.seed(75)
x <- as.matrix(iris[, 1:4])
fit <- glmnet::glmnet(x, iris$Species, family = "multinomial", nlambda = 10)
save_model(fit, "glmnet_multinomial")
write_case("glmnet_multinomial.case.json", "glmnet_multinomial", newdata_of(iris, iris_rows, names(iris)[1:4]),
           function(nd) predict(fit, newx = as.matrix(nd), s = 0.05, type = "response"),
           list(s = 0.05, type = "response"), fit = fit, fitted = "glmnet",
           covers = "a rows x classes x lambdas array: one field per class")

# ---- 76. caret through a recipe with step_novel: labels it never saw ---------
# step_novel gives a level the recipe never saw its own "new" level: R
# answers for it, so the bridge does too (a model without step_novel
# refuses such a label, naming it).
set.seed(76)
rec <- recipes::recipe(mpg ~ wt + hp + cyl, data = mt)
rec <- recipes::step_novel(rec, cyl)
rec <- recipes::step_dummy(rec, cyl)
fit <- caret::train(rec, data = mt, method = "lm", trControl = caret::trainControl(method = "none"))
save_model(fit, "caret_recipe_novel")
nd <- newdata_of(mt, rows_per_level(mt, "cyl"), c("wt", "hp", "cyl"))
nd$cyl <- as.character(nd$cyl)
nd$cyl[c(2, 5)] <- c("5", "12")
case_from_predict("caret_recipe_novel", fit, nd, fitted = "caret, recipes",
                  covers = "step_novel: a label the recipe never saw is its new level")

# ---- 77. caret through a recipe with step_other: labels it never saw ---------
# step_other pools the levels it does not keep, and any label it never saw,
# into "other": R answers for such a label, so the bridge does too.
set.seed(77)
d <- transform(mt, carb = factor(carb))
rec <- recipes::recipe(mpg ~ wt + hp + carb, data = d)
rec <- recipes::step_other(rec, carb, threshold = 0.15)
rec <- recipes::step_dummy(rec, carb)
fit <- caret::train(rec, data = d, method = "lm", trControl = caret::trainControl(method = "none"))
save_model(fit, "caret_recipe_other")
nd <- newdata_of(d, c(1, 3, 4, 7, 15, 30, 31), c("wt", "hp", "carb"))
nd$carb <- as.character(nd$carb)
nd$carb[c(2, 5)] <- c("5", "12")
case_from_predict("caret_recipe_other", fit, nd, fitted = "caret, recipes",
                  covers = "step_other: a label the recipe never saw is pooled into \"other\"")

# ---- 78. coxph / 79. survreg: strata() of a factor, a number, two variables ---
# survival labels a stratum of one factor by its level and otherwise
# "v=value": the factor's levels are read back from those labels.
set.seed(78)
library(survival)
fit <- coxph(Surv(time, status) ~ age + ph.ecog + strata(sex), data = lung, model = TRUE)
save_model(fit, "coxph_strata_factor")
nd <- newdata_of(cc, c(1, 2, 3, 5, 7, 8, 13), c("age", "ph.ecog", "sex"))
case_from_predict("coxph_strata_factor", fit, nd, list(type = "lp"), fitted = "survival",
                  covers = "strata() of a factor: its levels from the strata")
# A factor whose levels are numbers: its strata are labelled "0", "1", not
# "ecog=0", so it is that factor, not a number.
lung_f <- transform(lung, ecog = factor(ph.ecog))
fit <- coxph(Surv(time, status) ~ age + sex + strata(ecog), data = lung_f, model = TRUE)
save_model(fit, "coxph_strata_numlevels")
case_from_predict("coxph_strata_numlevels", fit, transform(nd, ecog = factor(ph.ecog, levels = 0:3))[c("age", "sex", "ecog")],
                  list(type = "lp"), fitted = "survival", covers = "strata() of a factor with levels \"0\", \"1\", ...")
fit <- survreg(Surv(time, status) ~ age + strata(sex, ph.ecog), data = lung, dist = "weibull")
save_model(fit, "survreg_strata_two")
case_from_predict("survreg_strata_two", fit, nd, list(type = "lp"), fitted = "survival",
                  covers = "strata() of a factor and a number: a scale per pair")
fit <- survreg(Surv(time, status) ~ age + sex + strata(ph.ecog), data = lung, dist = "weibull")
save_model(fit, "survreg_strata_num")
case_from_predict("survreg_strata_num", fit, nd, list(type = "response"), fitted = "survival",
                  covers = "strata() of a number")
detach("package:survival")

# ---- 80. party's cforest probabilities: a one-row matrix per row --------------
set.seed(80)
fit <- party::cforest(Species ~ ., data = iris_f,
                      controls = party::cforest_unbiased(ntree = 30, mtry = 2))
save_model(fit, "party_cforest_prob")
nd <- newdata_of(iris_f, c(1, 2, 51, 53, 101, 102), setdiff(names(iris_f), "Species"))
# R answers list(`1` = 1 x 3 matrix, ...): one row each, its matrix's columns.
write_case("party_cforest_prob.case.json", "party_cforest_prob", nd,
           function(nd) do.call(rbind, predict(fit, newdata = nd, type = "prob")), list(type = "prob"),
           fit = fit, fitted = "party", covers = "a one-row matrix of probabilities per row")

# ---- 81. clm with scale and nominal formulas ------------------------------------
set.seed(81)
fit <- ordinal::clm(rating ~ temp, scale = ~ contact, data = wine)
save_model(fit, "clm_scale")
nd <- newdata_of(wine, c(1, 3, 5, 7, 9, 11), c("temp", "contact"))
case_from_predict("clm_scale", fit, nd, list(type = "prob"), fitted = "ordinal",
                  covers = "scale = ~ contact: an input only its scale formula reads")
fit <- ordinal::clm(rating ~ temp, nominal = ~ contact, data = wine)
save_model(fit, "clm_nominal")
case_from_predict("clm_nominal", fit, nd, list(type = "prob"), fitted = "ordinal",
                  covers = "nominal = ~ contact")

# ---- 82. lmer with allow.new.levels / 83. lme at level 0: groups never seen ----
# With these arguments R answers a group it never saw with the fixed effects
# alone (as for NA); without them such a group is refused before R.
set.seed(82)
fit <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy)
save_model(fit, "lmer_new_levels")
nd <- newdata_of(lme4::sleepstudy, c(1, 12, 25, 40, 77), c("Days", "Subject"))
nd$Subject <- as.character(nd$Subject)
nd$Subject[c(2, 4)] <- c("999", "new")
case_from_predict("lmer_new_levels", fit, nd, list(allow.new.levels = TRUE), fitted = "lme4",
                  covers = "allow.new.levels = TRUE: a group never seen")
# docs/models.md: that answer (and a null group's) is re.form = NA's.
stopifnot(isTRUE(all.equal(unname(predict(fit, nd, allow.new.levels = TRUE)[c(2, 4)]),
                           unname(predict(fit, nd, re.form = NA)[c(2, 4)]), tolerance = 1e-12)))
fit <- nlme::lme(distance ~ age + Sex, random = ~ age | Subject, data = nlme::Orthodont)
save_model(fit, "lme_level0")
nd <- newdata_of(nlme::Orthodont, c(1, 20, 40, 70, 90), c("age", "Sex", "Subject"))
nd$Subject <- as.character(nd$Subject)
nd$Subject[c(2, 5)] <- c("X99", "F77")
case_from_predict("lme_level0", fit, nd, list(level = 0), fitted = "nlme",
                  covers = "level = 0: a group never seen")

# ---- 84. nlme: nonlinear parameters are not inputs ------------------------------
set.seed(84)
lob <- as.data.frame(Loblolly)
fit <- nlme::nlme(height ~ SSasymp(age, Asym, R0, lrc), data = lob, fixed = Asym + R0 + lrc ~ 1,
                  random = Asym ~ 1 | Seed, start = c(Asym = 103, R0 = -8.5, lrc = -3.3))
save_model(fit, "nlme_loblolly")
case_from_predict("nlme_loblolly", fit, newdata_of(lob, c(1, 10, 20, 33, 50), c("age", "Seed")),
                  fitted = "nlme", covers = "SSasymp(): its parameters are not inputs; a grouping factor")

# ---- 85. quantreg rqss: an additive quantile smooth --------------------------------
# Its terms keep the qss() terms as text, which stats cannot read: inputs
# come from its formula.
set.seed(85)
library(quantreg)
fit <- rqss(mpg ~ qss(wt, lambda = 1) + hp, tau = 0.5, data = mtcars)
detach("package:quantreg")
save_model(fit, "rqss_mtcars")
nd <- newdata_of(mtcars, c(1, 3, 5, 8, 13), c("wt", "hp"))
write_case("rqss_mtcars.case.json", "rqss_mtcars", nd, function(nd) predict(fit, nd), fit = fit,
           fitted = "quantreg", covers = "qss() smooth")

# ---- 86. kernlab kpca: predict(object, x) ------------------------------------------
# The rows go as x = (its method has no newdata), found from its formals.
set.seed(86)
fit <- kernlab::kpca(~ ., data = iris[, 1:4], kernel = "rbfdot", kpar = list(sigma = 0.2), features = 2)
save_model(fit, "kpca_iris")
nd <- newdata_of(iris, iris_rows, names(iris)[1:4])
unnamed <- function(m) {
  colnames(m) <- as.character(seq_len(ncol(m)))
  m
}
write_case("kpca_iris.case.json", "kpca_iris", nd, function(nd) unnamed(kernlab::predict(fit, nd)),
           fit = fit, fitted = "kernlab", covers = "x = argument, found from the method's formals")

# ---- 87. e1071 svm probabilities: attributes of its labels -------------------------
set.seed(87)
fit <- attach_ptype(e1071::svm(Species ~ ., data = iris, probability = TRUE), iris[, 1:4])
save_model(fit, "svm_probabilities")
nd <- newdata_of(iris, c(1, 2, 51, 53, 71, 101, 134), names(iris)[1:4])
# R answers the labels with an n x classes "probabilities" attribute.
svm_rows <- function(p) list(prediction = as.character(p), probabilities = attr(p, "probabilities"))
write_case("svm_probabilities.case.json", "svm_probabilities", nd,
           function(nd) svm_rows(predict(fit, nd, probability = TRUE)), list(probability = TRUE),
           fit = fit, fitted = "e1071", covers = "probability = TRUE: the labels and their probabilities attribute")

# ---- 88. pls on spectra: a matrix column of the training data --------------------
# plsr(octane ~ NIR): NIR is a 401-column matrix inside the data frame. A
# caller sends one number per wavelength, named as write.csv() names them
# ("NIR.900 nm"); R's answer is for the data frame holding the matrix.
set.seed(88)
data(gasoline, package = "pls")
fit <- pls::plsr(octane ~ NIR, ncomp = 3, data = gasoline[1:50, ])
save_model(fit, "pls_gasoline")
flat <- as.data.frame(unclass(gasoline$NIR[51:56, ]))
names(flat) <- paste("NIR", colnames(gasoline$NIR), sep = ".")
rownames(flat) <- NULL
with_matrix <- function(nd) {
  out <- data.frame(row.names = seq_len(nrow(nd)))
  out$NIR <- I(as.matrix(nd))
  out
}
write_case("pls_gasoline.case.json", "pls_gasoline", flat,
           function(nd) predict(fit, newdata = with_matrix(nd), ncomp = 2), list(ncomp = 2),
           fit = fit, fitted = "pls", covers = "a matrix column (spectra): one input per matrix column")

# ---- 89. spline arguments from variables: read once, at fit ----------------------
# knots = k and df = dfree are in the formula, but the terms' predvars hold
# their values: they are not inputs (nor in the file: R never needs them).
set.seed(89)
k <- c(2.5, 3.5)
dfree <- 4
fit <- lm(mpg ~ splines::ns(wt, knots = k) + splines::bs(hp, df = dfree) + qsec, data = mtcars)
rm(k, dfree)
save_model(fit, "lm_spline_args")
case_from_predict("lm_spline_args", fit, newdata_of(mtcars, c(1, 3, 5, 8, 13), c("wt", "hp", "qsec")),
                  fitted = "stats", covers = "ns(wt, knots = k), bs(hp, df = dfree): k and dfree are not inputs")

# ---- 90. ranger standard errors: type = "se" --------------------------------------
set.seed(90)
fit <- ranger::ranger(mpg ~ wt + hp + qsec, data = mtcars, keep.inbag = TRUE, num.trees = 60, seed = 90)
save_model(fit, "ranger_se")
nd <- newdata_of(mtcars, c(1, 3, 5, 8, 13, 20), c("wt", "hp", "qsec"))
write_case("ranger_se.case.json", "ranger_se", nd, function(nd) {
  p <- suppressWarnings(predict(fit, data = nd, type = "se"))
  list(predictions = p$predictions, se = p$se)
}, list(type = "se"), fit = fit, fitted = "ranger", covers = "type = \"se\": predictions and their standard errors")

# ---- 91. coxph type = "expected": predict() reads the response too -------------
# time and status are optional inputs: sent, they are passed on (R needs
# them for type = "expected" and "survival"); type = "lp" does without.
set.seed(91)
library(survival)
# model = TRUE: type = "expected" needs the training frame, which it would
# otherwise rebuild from a `lung` found wherever it is predicted.
fit <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, model = TRUE)
save_model(fit, "coxph_expected")
nd <- newdata_of(cc, c(1, 2, 3, 5, 7, 8, 13), c("time", "status", "age", "sex", "ph.ecog"))
case_from_predict("coxph_expected", fit, nd, list(type = "expected"), fitted = "survival",
                  covers = "type = \"expected\": the response's time and status, optional inputs")
detach("package:survival")
