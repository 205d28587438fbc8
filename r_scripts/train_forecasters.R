# Train the forecaster fixtures and, for each, a JSON "case" the Python tests
# replay through the bridge (POST /models/NAME/forecast) and compare with R's
# own forecast() output.
#
# Usage: Rscript r_scripts/train_forecasters.R OUTDIR
#
# A case file <name>.case.json looks like
#   {"model": NAME, "request": {"h": 12, "level": [80, 95], "xreg": {...}, ...},
#    "expected": {"step": [...], "time": [...], "mean": [...],
#                 "lower_80": [...], "upper_80": [...], ...},
#    "info": {"frequency": 12, "last_time": "1960-12", "regressors": [...]},
#    "apply": {"request": {"y": [...], "start": [1955, 1], ...}, "expected": {...}}}
# The expected numbers are forecast::forecast(model, h =, level =, xreg =)
# computed here, or for stats::arima() with regressors, predict(n.ahead =,
# newxreg =) with forecast.Arima()'s intervals. Times are written by zoo
# (yearmon, yearqtr) or by hand, independently of r_scripts/bridge/forecast.R.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript r_scripts/train_forecasters.R OUTDIR")
outdir <- args[[1]]
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)
suppressMessages(library(forecast))

# ---- JSON --------------------------------------------------------------------
# Numbers at 17 significant digits (jsonlite rounds to 15), so the tests can
# compare at 1e-9 whatever the scale.

num <- function(x) {
  x <- as.numeric(x)
  structure(paste0("[", paste(ifelse(is.finite(x), sprintf("%.17g", x), "null"), collapse = ","),
                   "]"), class = "json")
}

to_json <- function(x) {
  jsonlite::toJSON(x, auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null",
                   digits = NA, pretty = FALSE)
}

# ---- expected answers --------------------------------------------------------

labels <- function(times, frequency) {
  if (frequency == 12) return(format(zoo::as.yearmon(times + 1e-9), "%Y-%m"))
  if (frequency == 4) return(format(zoo::as.yearqtr(times + 1e-9), "%Y-Q%q"))
  if (frequency == 1) return(sprintf("%d", as.integer(round(times))))
  if (frequency == 52) {
    return(sprintf("%d-W%02d", as.integer(floor(times + 1e-9)),
                   as.integer(round((times - floor(times + 1e-9)) * 52)) + 1L))
  }
  stop("no label rule for frequency ", frequency)
}

expected_of <- function(mean, lower = NULL, upper = NULL, level = NULL) {
  times <- as.numeric(time(mean))
  out <- list(step = seq_along(mean), time = labels(times, frequency(mean)), mean = num(mean))
  if (!is.null(lower)) {
    lower <- matrix(as.numeric(lower), ncol = length(level))
    upper <- matrix(as.numeric(upper), ncol = length(level))
    for (j in seq_along(level)) {
      out[[paste0("lower_", level[j])]] <- num(lower[, j])
      out[[paste0("upper_", level[j])]] <- num(upper[, j])
    }
  }
  out
}

from_forecast <- function(fc) expected_of(fc$mean, fc$lower, fc$upper, fc$level)

info_of <- function(x, regressors = character(0)) {
  list(frequency = frequency(x), last_time = labels(tsp(x)[2], frequency(x)),
       regressors = I(regressors))
}

write_case <- function(name, model, request, expected, info, apply = NULL) {
  saveRDS(model, file.path(outdir, paste0(name, ".rds")))
  case <- list(model = name, request = request, expected = expected, info = info)
  if (!is.null(apply)) case$apply <- apply
  writeLines(to_json(case), file.path(outdir, paste0(name, ".case.json")))
}

# Columns as an HTTP caller sends them: {"name": [values]}.
xreg_json <- function(m) {
  out <- lapply(seq_len(ncol(m)), function(j) num(m[, j]))
  names(out) <- colnames(m)
  out
}

# ---- the fixtures ----------------------------------------------------------------

# Seasonal ARIMA with a Box-Cox transform; applied to a shorter series too.
fit <- Arima(AirPassengers, order = c(0, 1, 1), seasonal = c(0, 1, 1), lambda = 0)
other <- window(AirPassengers, start = c(1955, 1), end = c(1958, 12)) * 1.1
write_case("arima_seasonal", fit,
           list(h = 24, level = c(80, 95)),
           from_forecast(forecast(fit, h = 24, level = c(80, 95))),
           info_of(AirPassengers),
           list(request = list(y = num(other), start = c(1955, 1), frequency = 12, h = 6,
                               level = c(80, 95)),
                expected = from_forecast(forecast(Arima(other, model = fit), h = 6,
                                                  level = c(80, 95)))))

# Non-seasonal ARIMA chosen by auto.arima, unusual levels.
fit <- auto.arima(WWWusage)
write_case("arima_nonseasonal", fit,
           list(h = 10, level = c(50, 99)),
           from_forecast(forecast(fit, h = 10, level = c(50, 99))),
           info_of(WWWusage))

# ARIMA with drift (a regressor forecast() builds itself).
fit <- Arima(Nile, order = c(0, 1, 1), include.drift = TRUE)
write_case("arima_drift", fit,
           list(h = 7, level = c(80, 95)),
           from_forecast(forecast(fit, h = 7, level = c(80, 95))),
           info_of(Nile))

# ARIMA with two regressors (forecast::Arima keeps them in $xreg).
set.seed(14)
n <- 120
reg <- cbind(price = round(rnorm(n, 10, 1), 2), promo = rbinom(n, 1, 0.3))
y <- ts(50 + 3 * reg[, "promo"] - 2 * reg[, "price"] + arima.sim(list(ar = 0.6), n),
        start = c(2010, 1), frequency = 12)
fit <- Arima(y, order = c(1, 0, 0), xreg = reg)
future <- cbind(price = c(9.5, 10, 10.5, 11, 9, 10.2), promo = c(0, 1, 0, 0, 1, 1))
write_case("arima_xreg", fit,
           list(level = c(80, 95), xreg = xreg_json(future)),
           from_forecast(forecast(fit, xreg = future, level = c(80, 95))),
           info_of(y, colnames(reg)))

# stats::arima() with a regressor: no forecast() support, so predict() with
# forecast.Arima()'s intervals.
lake_t <- cbind(t = as.numeric(time(LakeHuron)) - 1920)
fit <- arima(LakeHuron, order = c(2, 0, 0), xreg = lake_t)
future <- cbind(t = 53:60)
p <- predict(fit, n.ahead = 8, newxreg = future)
lev <- c(80, 95)
q <- qnorm(0.5 * (1 + lev / 100))
write_case("stats_arima_xreg", fit,
           list(h = 8, level = lev, xreg = xreg_json(future)),
           expected_of(p$pred, sapply(q, function(z) p$pred - z * p$se),
                       sapply(q, function(z) p$pred + z * p$se), lev),
           info_of(LakeHuron, "t"))

# ets with a damped trend (non-seasonal), and a seasonal multiplicative ets.
fit <- ets(WWWusage, model = "AAN", damped = TRUE)
write_case("ets_damped", fit,
           list(h = 12, level = c(80, 95)),
           from_forecast(forecast(fit, h = 12, level = c(80, 95))),
           info_of(WWWusage),
           list(request = list(y = num(WWWusage[1:60] + 5), start = 1, h = 5, level = c(90)),
                expected = from_forecast(forecast(ets(ts(WWWusage[1:60] + 5), model = fit),
                                                  h = 5, level = 90))))

fit <- ets(USAccDeaths, model = "MAM")
set.seed(7)
write_case("ets_seasonal", fit,
           list(h = 18, level = c(80, 95), seed = 7),
           from_forecast(forecast(fit, h = 18, level = c(80, 95))),
           info_of(USAccDeaths))

# Holt-Winters, additive and multiplicative.
fit <- HoltWinters(co2)
write_case("hw_additive", fit,
           list(h = 24, level = c(80, 95)),
           from_forecast(forecast(fit, h = 24, level = c(80, 95))),
           info_of(co2))

fit <- HoltWinters(AirPassengers, seasonal = "multiplicative")
write_case("hw_multiplicative", fit,
           list(h = 12, level = c(95)),
           from_forecast(forecast(fit, h = 12, level = 95)),
           info_of(AirPassengers))

# Basic structural model on a quarterly series.
fit <- StructTS(log10(UKgas), type = "BSM")
write_case("structts", fit,
           list(h = 8, level = c(80, 95)),
           from_forecast(forecast(fit, h = 8, level = c(80, 95))),
           info_of(UKgas))

# Linear model with trend and season.
fit <- tslm(USAccDeaths ~ trend + season)
write_case("tslm_season", fit,
           list(h = 15, level = c(80, 95)),
           from_forecast(forecast(fit, h = 15, level = c(80, 95))),
           info_of(USAccDeaths))

# TBATS on a short series (three years).
short <- window(USAccDeaths, end = c(1975, 12))
fit <- tbats(short, use.parallel = FALSE)
write_case("tbats_short", fit,
           list(h = 12, level = c(80, 95)),
           from_forecast(forecast(fit, h = 12, level = c(80, 95))),
           info_of(short))

# Neural network autoregression: intervals by simulation, so a seed.
set.seed(2024)
fit <- nnetar(lynx, p = 4, size = 3, repeats = 5)
set.seed(99)
write_case("nnetar_seeded", fit,
           list(h = 6, level = c(80, 95), seed = 99, args = list(npaths = 200)),
           from_forecast(forecast(fit, h = 6, level = c(80, 95), PI = TRUE, npaths = 200)),
           info_of(lynx))

# A weekly series (frequency 52): the week labels.
set.seed(52)
weekly <- ts(100 + cumsum(rnorm(80)), start = c(2021, 40), frequency = 52)
fit <- ets(weekly, model = "ANN")
write_case("ets_weekly", fit,
           list(h = 20, level = c(80)),
           from_forecast(forecast(fit, h = 20, level = 80)),
           info_of(weekly))

# An stl decomposition: forecast.stl() takes a `forecastfunction`, the kind
# of argument a request must never name code for.
fit <- stl(USAccDeaths, "periodic")
write_case("stl_periodic", fit,
           list(h = 12, level = c(80, 95)),
           from_forecast(forecast(fit, h = 12, level = c(80, 95))),
           info_of(USAccDeaths))

# Not forecasters: a regression (forecast.lm exists, but an lm is not a time
# series model) is served by /predict as before.
saveRDS(lm(dist ~ speed, data = cars), file.path(outdir, "cars_lm.rds"))
