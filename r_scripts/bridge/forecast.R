# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- forecasters -------------------------------------------------------------
#
# Time-series models answer a horizon, not rows: forecast(model, h, level,
# xreg). This file knows which objects are forecasters, what they need
# (frequency, last observed time, regressors), how to call R for them and
# how to write the time of each step. The Python side (bridge/forecast*.py)
# sends only validated data: h, levels, seed as numbers, regressor columns as
# plain vectors, args as plain atomic values checked here against an
# allow-list.

# Classes that have a forecast() method in the forecast package but are data
# or plain regressions, not fitted time-series models: a glm is not a
# forecaster because forecast.lm exists.
.not_forecasters <- c("default", "ts", "mts", "msts", "forecast", "lm", "mlm", "numeric",
                      "matrix", "data.frame")

.forecast_classes <- NULL

# The classes with a forecast() method registered by the forecast package,
# read from its NAMESPACE (the package is not loaded for this).
bridge_forecast_classes <- function() {
  if (!is.null(.forecast_classes)) return(.forecast_classes)
  found <- c("Arima", "ARIMA", "forecast_ARIMA", "ets", "HoltWinters", "StructTS", "bats",
             "tbats", "tslm", "nnetar")
  dir <- system.file(package = "forecast")
  if (nzchar(dir)) {
    ns <- tryCatch(parseNamespaceFile("forecast", dirname(dir)), error = function(e) NULL)
    s3 <- ns$S3methods
    if (!is.null(s3) && nrow(s3)) found <- union(found, s3[s3[, 1] == "forecast", 2])
  }
  .forecast_classes <<- setdiff(found, .not_forecasters)
  .forecast_classes
}

bridge_is_forecaster <- function(model) {
  any(class(model) %in% bridge_forecast_classes())
}

# The packages a forecaster needs loaded: its predict() package and forecast.
bridge_forecaster_packages <- function(model) {
  pkgs <- bridge_model_packages(model)
  if (nzchar(system.file(package = "forecast"))) pkgs <- union(pkgs, "forecast")
  for (pkg in pkgs) loadNamespace(pkg)
  pkgs
}

# stats::arima() keeps neither its series nor its regressors, and
# forecast.Arima() would look them up by evaluating the fitting call: such a
# model is forecast through predict(), which needs only its state.
.stats_arima <- function(model) {
  inherits(model, "Arima") && !inherits(model, c("ARIMA", "forecast_ARIMA")) && is.null(model$x)
}

# "forecast" when forecast::forecast() handles the model, else "predict".
.forecast_method <- function(model) {
  if (.stats_arima(model)) return("predict")
  if (nzchar(system.file(package = "forecast")) &&
      !is.null(.forecast_fn(model))) return("forecast")
  "predict"
}

# The method forecast() dispatches to (tslm reaches forecast.lm); its
# default method would treat the model as data.
.forecast_fn <- function(model) {
  ns <- asNamespace("forecast")
  for (cls in class(model)) {
    fn <- utils::getS3method("forecast", cls, optional = TRUE, envir = ns)
    if (!is.null(fn)) return(fn)
  }
  NULL
}

.predict_fn <- function(model) {
  for (cls in class(model)) {
    fn <- utils::getS3method("predict", cls, optional = TRUE)
    if (!is.null(fn)) return(fn)
  }
  NULL
}

# ---- the series a model was fitted to ----------------------------------------

# The observed series as a ts, or NULL: where each class keeps it.
.observed <- function(model) {
  for (part in c("x", "y", "data")) {
    value <- model[[part]]
    if (is.ts(value) && is.null(dim(value))) return(value)
  }
  if (is.ts(model$residuals)) return(model$residuals)
  NULL
}

# tsp (start, end, frequency) of the fitted series; c(1, n, 1) without one.
.model_tsp <- function(model) {
  x <- .observed(model)
  if (!is.null(x)) return(tsp(x))
  if (!is.null(model$xtsp)) return(model$xtsp)
  # stl keeps its components, not the series: they share its time base.
  if (is.ts(model$time.series)) return(tsp(model$time.series))
  c(1, 1, 1)
}

# ---- time labels -------------------------------------------------------------
#
# The time of each step, written the way the series' frequency reads:
#   frequency 1        "1961"        (the time itself when it is not whole)
#   frequency 4        "1961-Q1"
#   frequency 12       "1961-01"
#   frequency 52       "1961-W01"    (the cycle within the year, 01..52)
#   frequency 365      "1961-01-01"  (1 January plus cycle - 1 days)
#   365.25 or 365.25/7 "1961-01-01"  (the date that fraction of the year falls on)
#   anything else      the decimal time as R's time() gives it ("10.285714")
bridge_time_labels <- function(times, frequency) {
  f <- frequency
  near <- function(a, b) abs(a - b) < 1e-6
  whole <- near(f, round(f))
  if (whole && f > 1) {
    idx <- round(times * f)
    year <- idx %/% round(f)
    cycle <- idx %% round(f) + 1
  }
  if (near(f, 1)) {
    return(ifelse(near(times, round(times)), sprintf("%d", as.integer(round(times))),
                  .decimal(times)))
  }
  if (whole && round(f) == 4) return(sprintf("%d-Q%d", year, cycle))
  if (whole && round(f) == 12) return(sprintf("%d-%02d", year, cycle))
  if (whole && round(f) == 52) return(sprintf("%d-W%02d", year, cycle))
  if (whole && round(f) == 365) {
    return(format(as.Date(sprintf("%d-01-01", year)) + (cycle - 1)))
  }
  if (near(f, 365.25) || near(f, 365.25 / 7)) {
    year <- floor(times + 1e-9)
    start <- as.Date(sprintf("%d-01-01", year))
    days <- as.numeric(as.Date(sprintf("%d-01-01", year + 1)) - start)
    return(format(start + round((times - year) * days)))
  }
  .decimal(times)
}

.decimal <- function(times) {
  out <- sprintf("%.6f", times)
  sub("\\.$", "", sub("0+$", "", out))
}

# ---- what a forecaster needs -------------------------------------------------

# Regressors as a list of zero-length prototypes, named; list() without any.
.regressors <- function(model) {
  if (inherits(model, "tslm")) {
    inputs <- .inputs_terms(model)$columns
    return(inputs[setdiff(names(inputs), c("trend", "season"))])
  }
  names <- .regressor_names(model)
  protos <- rep(list(numeric(0)), length(names))
  names(protos) <- names
  protos
}

.regressor_names <- function(model) {
  if (.stats_arima(model)) {
    coefs <- names(model$coef)
    narma <- sum(model$arma[1:4])
    extra <- if (length(coefs) > narma) coefs[-seq_len(narma)] else character(0)
    return(setdiff(extra, "intercept"))
  }
  xreg <- model$xreg
  if (is.null(xreg)) return(character(0))
  names <- colnames(xreg)
  if (is.null(names)) {
    names <- if (NCOL(xreg) == 1) "xreg" else paste0("xreg", seq_len(NCOL(xreg)))
  }
  # auto.arima's drift is a regressor forecast() makes itself.
  if (inherits(model, "Arima") && "drift" %in% names(model$coef)) names <- setdiff(names, "drift")
  names
}

# The formals of the function that forecasts this model.
.method_formals <- function(model) {
  fn <- if (.forecast_method(model) == "forecast") .forecast_fn(model) else .predict_fn(model)
  if (is.null(fn)) list() else formals(fn)
}

.default_levels <- function(model) {
  lev <- .method_formals(model)$level
  value <- tryCatch(eval(lev, baseenv()), error = function(e) NULL)
  if (is.numeric(value)) value else c(80, 95)
}

# Set by the bridge itself: a caller may not pass them as args.
.reserved_forecast_args <- c("object", "h", "level", "xreg", "newxreg", "newdata", "x", "y",
                             "model", "n.ahead", "se.fit", "...", "data")

# Arguments whose value could name code: a default that is a function (or a
# symbol bound to one), or a name that says it takes one.
.function_args <- function(formals) {
  names(formals)[vapply(names(formals), function(n) {
    if (grepl("fun", n, ignore.case = TRUE)) return(TRUE)
    # NOTE: not `d <- formals[[n]]`: a formal without default is the empty
    # symbol, and a variable holding it errors when read.
    if (is.call(formals[[n]])) return(identical(formals[[n]][[1]], as.name("function")))
    if (is.symbol(formals[[n]]) && nzchar(as.character(formals[[n]]))) {
      bound <- tryCatch(get(as.character(formals[[n]]), envir = asNamespace("forecast")),
                        error = function(e) NULL)
      return(is.function(bound))
    }
    FALSE
  }, TRUE)]
}

# What GET /models/{name} shows, and what the Python side checks requests with.
bridge_forecaster_info <- function(model) {
  tsp <- .model_tsp(model)
  x <- .observed(model)
  formals <- .method_formals(model)
  allowed <- setdiff(names(formals), .reserved_forecast_args)
  regs <- .regressors(model)
  list(
    frequency = tsp[3],
    start = bridge_time_labels(tsp[1], tsp[3]),
    last_time = bridge_time_labels(tsp[2], tsp[3]),
    n = if (is.null(x)) NA_integer_ else length(x),
    regressors = names(regs),
    levels = .default_levels(model),
    method = .forecast_method(model),
    args = allowed,
    function_args = intersect(.function_args(formals), allowed),
    can_apply = .apply_kind(model) != "",
    min_length = .min_length(model)
  )
}

bridge_forecaster_inputs <- function(model) {
  list(columns = .regressors(model), source = "forecaster regressors")
}

# ---- forecasting ---------------------------------------------------------------

.input_error <- function(msg) structure(class = c("bridge_input", "error", "condition"),
                                        list(message = msg, call = NULL))

.check_args <- function(model, args) {
  formals <- .method_formals(model)
  allowed <- setdiff(names(formals), .reserved_forecast_args)
  fun_args <- .function_args(formals)
  for (n in names(args)) {
    v <- args[[n]]
    if (!(n %in% allowed)) {
      stop(.input_error(sprintf("argument '%s' is not an argument of this forecaster (allowed: %s)",
                                n, paste(allowed, collapse = ", "))))
    }
    if (!is.null(v) && (!is.atomic(v) || !is.null(attributes(v)))) {
      stop(.input_error(sprintf("argument '%s' must be a plain value", n)))
    }
    if (is.character(v) && n %in% fun_args) {
      stop(.input_error(sprintf("argument '%s' takes a function: a string is refused", n)))
    }
    # A default that is a plain TRUE/FALSE or number says what the argument takes.
    default <- formals[[n]]
    if (is.logical(default) && length(default) == 1 && !is.na(default) && !is.logical(v)) {
      stop(.input_error(sprintf("argument '%s' must be true or false", n)))
    }
    if (is.numeric(default) && !is.null(v) && !is.numeric(v)) {
      stop(.input_error(sprintf("argument '%s' must be a number", n)))
    }
    if (n == "npaths" && is.numeric(v) && any(v > 1e5)) {
      stop(.input_error("argument 'npaths' is at most 100000"))
    }
  }
  invisible(TRUE)
}

# The regressors as forecast() takes them: a data.frame for tslm, else a
# numeric matrix in the order the model was fitted with.
.build_xreg <- function(model, cols, classes, n) {
  if (is.null(cols) || !length(cols)) return(NULL)
  frame <- bridge_frame(cols, classes, n)
  if (inherits(model, "tslm")) return(frame)
  names <- .regressor_names(model)
  m <- as.matrix(frame[, names, drop = FALSE])
  storage.mode(m) <- "double"
  colnames(m) <- names
  m
}

# Runs expr with the given seed and puts the session's random state back,
# so a request never changes what the next one draws. Reports whether R drew
# random numbers (simulated intervals).
.with_seed <- function(seed, expr) {
  env <- globalenv()
  had <- exists(".Random.seed", envir = env, inherits = FALSE)
  old <- if (had) get(".Random.seed", envir = env, inherits = FALSE)
  on.exit(if (had) assign(".Random.seed", old, envir = env)
          else if (exists(".Random.seed", envir = env, inherits = FALSE))
            rm(".Random.seed", envir = env))
  set.seed(seed)
  before <- get(".Random.seed", envir = env)
  value <- expr
  list(value = value, simulated = !identical(before, get(".Random.seed", envir = env)))
}

.call_forecast <- function(model, h, level, xreg, args) {
  call <- list(quote(forecast::forecast), quote(model))
  if (!is.null(h)) call$h <- h
  if (!is.null(level)) call$level <- level
  if (!is.null(xreg)) {
    if (inherits(model, "tslm")) call$newdata <- quote(xreg) else call$xreg <- quote(xreg)
  }
  # nnetar gives no intervals unless asked: a forecast request asks for them.
  if (inherits(model, "nnetar") && is.null(args[["PI"]])) call$PI <- TRUE
  fc <- eval(as.call(c(call, args)))
  list(mean = fc$mean, lower = fc$lower, upper = fc$upper, level = fc$level)
}

# predict(model, n.ahead, newxreg, se.fit = TRUE), with intervals as
# forecast.Arima() builds them: mean -/+ qnorm(0.5 * (1 + level / 100)) * se.
.call_predict <- function(model, h, level, xreg, args) {
  if (.stats_arima(model)) {
    # predict.Arima() counts the fitted regressors by evaluating the fitting
    # call's xreg; give it their number instead of running the file's code.
    k <- length(.regressor_names(model))
    model$call$xreg <- if (k) matrix(0, 0, k) else NULL
  }
  if (is.null(h)) h <- if (!is.null(xreg)) NROW(xreg) else 10
  call <- list(quote(stats::predict), quote(model), n.ahead = h, se.fit = TRUE)
  if (!is.null(xreg)) call$newxreg <- quote(xreg)
  p <- eval(as.call(c(call, args)))
  if (!is.list(p) || is.null(p$se)) return(list(mean = if (is.list(p)) p$pred else p))
  if (is.null(level)) level <- .default_levels(model)
  if (min(level) > 0 && max(level) < 1) level <- 100 * level
  level <- sort(level)
  q <- qnorm(0.5 * (1 + level / 100))
  lower <- sapply(q, function(z) p$pred - z * p$se)
  upper <- sapply(q, function(z) p$pred + z * p$se)
  list(mean = p$pred, lower = lower, upper = upper, level = level)
}

# One row per step: step, time, mean, lower_<L>, upper_<L> as plain vectors,
# or list(error, kind) with kind "input" (the caller's h, level, xreg, args or
# series) or "model".
bridge_forecast <- function(model, h, level, cols, classes, n, args, seed) {
  warnings <- NULL
  result <- withCallingHandlers(
    tryCatch({
      .check_args(model, args)
      xreg <- .build_xreg(model, cols, classes, n)
      if (length(.regressor_names(model)) && is.null(xreg)) {
        stop(.input_error(sprintf("this model was fitted with regressors (%s): send their future values in 'xreg'",
                                  paste(.regressor_names(model), collapse = ", "))))
      }
      run <- if (.forecast_method(model) == "forecast") .call_forecast else .call_predict
      .with_seed(seed, run(model, h, level, xreg, args))
    }, error = function(e) e),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  if (inherits(result, "error")) return(.forecast_error(result, warnings))
  out <- .forecast_columns(result$value)
  list(columns = out, simulated = result$simulated, method = .forecast_method(model),
       warnings = as.character(unique(warnings)))
}

.forecast_error <- function(e, warnings, input = FALSE) {
  msg <- conditionMessage(e)
  kind <- if (input || inherits(e, "bridge_input") || .forecast_error_kind(msg) == "input") "input"
          else "model"
  list(error = msg, kind = kind, warnings = as.character(unique(warnings)))
}

.forecast_input_patterns <- c(
  "xreg", "regressor", "newdata", "Confidence limit out of range", "horizon",
  "must be at least", "non-conformable", "object '.*' not found")

.forecast_error_kind <- function(msg) {
  if (.error_kind(msg) == "input") return("input")
  hit <- vapply(.forecast_input_patterns, grepl, TRUE, x = msg)
  if (any(hit)) "input" else "model"
}

.forecast_columns <- function(fc) {
  mean <- fc$mean
  tsp <- tsp(mean)
  steps <- seq_along(mean)
  times <- if (is.null(tsp)) steps else tsp[1] + (steps - 1) / tsp[3]
  cols <- list(step = steps, time = bridge_time_labels(times, if (is.null(tsp)) 1 else tsp[3]),
               mean = as.numeric(mean))
  if (!is.null(fc$lower) && length(fc$level)) {
    lower <- matrix(as.numeric(fc$lower), ncol = length(fc$level))
    upper <- matrix(as.numeric(fc$upper), ncol = length(fc$level))
    for (j in seq_along(fc$level)) {
      name <- as.character(fc$level[j])
      cols[[paste0("lower_", name)]] <- lower[, j]
      cols[[paste0("upper_", name)]] <- upper[, j]
    }
  }
  cols
}

# ---- applying a fitted model to another series -----------------------------------

# How a model is applied to a new series keeping its structure and
# parameters (no re-estimation): "" where that is not supported.
.apply_kind <- function(model) {
  if (length(.regressor_names(model))) return("")
  if (inherits(model, c("ARIMA", "forecast_ARIMA")) ||
      (inherits(model, "Arima") && !.stats_arima(model))) return("Arima")
  for (cls in c("ets", "tbats", "bats", "nnetar", "HoltWinters", "StructTS")) {
    if (inherits(model, cls)) return(cls)
  }
  ""
}

# The fewest observations a model's structure needs: its lags and
# differences, and two full seasons for a seasonal model.
.min_length <- function(model) {
  m <- .model_tsp(model)[3]
  kind <- .apply_kind(model)
  if (kind == "Arima") {
    a <- model$arma  # p, q, P, Q, period, d, D
    return(as.integer(a[6] + a[7] * a[5] + max(a[1] + a[5] * a[3], a[2] + a[5] * a[4]) + 1))
  }
  if (kind == "nnetar") return(as.integer(max(model$lags) + 1))
  seasonal <- switch(kind,
    ets = model$components[3] != "N",
    HoltWinters = !isFALSE(model$gamma),
    StructTS = "seas" %in% names(model$coef),
    tbats = , bats = !is.null(model$seasonal.periods),
    FALSE)
  if (seasonal) {
    periods <- if (kind %in% c("bats", "tbats")) max(model$seasonal.periods) else m
    return(as.integer(ceiling(2 * periods)))
  }
  3L
}

.refit <- function(model, y) {
  switch(.apply_kind(model),
    Arima = forecast::Arima(y, model = model),
    ets = forecast::ets(y, model = model),
    tbats = forecast::tbats(y, model = model),
    bats = forecast::bats(y, model = model),
    nnetar = forecast::nnetar(y, model = model),
    HoltWinters = stats::HoltWinters(y, alpha = model$alpha, beta = model$beta,
                                     gamma = model$gamma, seasonal = model$seasonal),
    StructTS = stats::StructTS(y, type = .structts_type(model), fixed = model$coef))
}

.structts_type <- function(model) {
  coefs <- names(model$coef)
  if ("seas" %in% coefs) "BSM" else if ("slope" %in% coefs) "trend" else "level"
}

# The model's structure and parameters on the caller's series y (numbers,
# NA allowed), which starts at `start` (a time, or c(period, cycle)) with
# the model's frequency; then forecast as bridge_forecast does.
bridge_forecast_series <- function(model, y, start, frequency, h, level, args, seed) {
  f <- .model_tsp(model)[3]
  fail <- function(msg) list(error = msg, kind = "input", warnings = character(0))
  if (.apply_kind(model) == "") {
    return(fail(paste0("this model cannot be applied to another series (supported: Arima, ets, ",
                       "bats/tbats, nnetar, HoltWinters, StructTS without regressors)")))
  }
  if (!is.null(frequency) && abs(frequency - f) > 1e-8) {
    return(fail(sprintf("the series' frequency %s differs from the model's %s", format(frequency),
                        format(f))))
  }
  need <- .min_length(model)
  if (length(y) < need) {
    return(fail(sprintf("the series has %d observations; this model needs at least %d",
                        length(y), need)))
  }
  y <- if (is.null(start)) ts(y, frequency = f) else ts(y, start = start, frequency = f)
  warnings <- NULL
  refit <- withCallingHandlers(
    tryCatch(.with_seed(seed, .refit(model, y))$value, error = function(e) e),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  if (inherits(refit, "error")) {
    out <- .forecast_error(refit, warnings, input = TRUE)
    out$error <- paste("the series does not fit the model:", out$error)
    return(out)
  }
  out <- bridge_forecast(refit, h, level, NULL, NULL, 0L, args, seed)
  out$warnings <- unique(c(as.character(warnings), out$warnings))
  out
}
