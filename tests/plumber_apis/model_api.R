# A model API as teams write them: preprocessing, then predict() on a model
# file read once at start-up, relative to this file.

library(stats)

model <- readRDS("../../r_models/mtcars_lm.rds")

prepare <- function(wt, hp, cyl) {
  wt <- as.numeric(wt)
  hp <- as.numeric(hp)
  if (any(is.na(wt)) || any(is.na(hp))) stop("wt and hp must be numbers")
  data.frame(wt = wt, hp = hp,
             cyl = factor(as.character(cyl), levels = c("4", "6", "8")))
}

#* Health check
#* @get /health
function() {
  list(status = "ok", model = class(model)[1])
}

#* Predict mpg for one car given in the query string
#* @param wt:number weight (1000 lbs)
#* @param hp:number gross horsepower
#* @param cyl:string number of cylinders (4, 6, 8)
#* @get /predict
function(wt, hp, cyl = "6") {
  newdata <- prepare(wt, hp, cyl)
  list(mpg = unname(predict(model, newdata)))
}

#* Predict mpg for the rows of a JSON body: [{"wt":..,"hp":..,"cyl":..}, ...]
#* @post /predict
function(req, res) {
  rows <- req$body
  if (!is.data.frame(rows) || !all(c("wt", "hp", "cyl") %in% names(rows))) {
    res$status <- 400
    return(list(error = "send a JSON array of rows with wt, hp and cyl"))
  }
  newdata <- prepare(rows$wt, rows$hp, rows$cyl)
  data.frame(rows, mpg = unname(predict(model, newdata)))
}

#* Body fields as function arguments, answer unboxed
#* @serializer unboxedJSON
#* @post /predict_one
function(wt, hp, cyl) {
  newdata <- prepare(wt, hp, cyl)
  list(mpg = unname(predict(model, newdata)), cyl = as.character(newdata$cyl))
}

#* Prediction interval, with a confidence level that must be in (0, 1)
#* @serializer unboxedJSON
#* @get /interval
function(wt, hp, cyl = "6", level = "0.95", res) {
  level <- as.numeric(level)
  if (is.na(level) || level <= 0 || level >= 1) {
    res$status <- 422
    return(list(error = "level must be a number between 0 and 1"))
  }
  p <- predict(model, prepare(wt, hp, cyl), interval = "prediction", level = level)
  as.list(p[1, ])
}

#* Predictions as CSV
#* @serializer csv
#* @get /predict.csv
function(wt = "2.5", hp = "110") {
  grid <- expand.grid(wt = as.numeric(wt), hp = as.numeric(hp), cyl = c("4", "6", "8"),
                      stringsAsFactors = FALSE)
  grid$mpg <- round(unname(predict(model, prepare(grid$wt, grid$hp, grid$cyl))), 4)
  grid
}

#* Coefficients, as plain text
#* @serializer text
#* @get /coef
function() {
  paste(names(coef(model)), signif(coef(model), 6), sep = "=", collapse = "\n")
}
