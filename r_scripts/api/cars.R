# An example Plumber API, served by `make run` next to the model endpoints
# (`--plumber-dir r_scripts/api`; see docs/plumber.md). It predicts fuel
# consumption with the example model mtcars_lm.rds: the file CARS_MODEL names,
# else r_models/mtcars_lm.rds relative to this file, as a
# plumber::pr_run(plumber::pr("r_scripts/api/cars.R")) would read it.

model <- readRDS(Sys.getenv("CARS_MODEL", "../../r_models/mtcars_lm.rds"))

as_newdata <- function(wt, hp, cyl) {
  newdata <- data.frame(wt = as.numeric(wt), hp = as.numeric(hp),
                        cyl = factor(as.character(cyl), levels = c("4", "6", "8")))
  if (anyNA(newdata)) stop("wt and hp must be numbers and cyl one of 4, 6, 8")
  newdata
}

#* Is the API up?
#* @serializer unboxedJSON
#* @get /cars/health
function() {
  list(status = "ok", model = "mtcars_lm")
}

#* Miles per gallon for one car
#* @param wt:number weight in 1000 lbs
#* @param hp:number gross horsepower
#* @param cyl:string cylinders: 4, 6 or 8
#* @serializer unboxedJSON
#* @get /cars/mpg
function(wt, hp, cyl = "6", res) {
  newdata <- tryCatch(as_newdata(wt, hp, cyl), error = function(e) NULL)
  if (is.null(newdata)) {
    res$status <- 400
    return(list(error = "wt and hp must be numbers and cyl one of 4, 6, 8"))
  }
  list(mpg = unname(predict(model, newdata)))
}

#* Miles per gallon for each car of a JSON array [{"wt":..,"hp":..,"cyl":..}]
#* @post /cars/mpg
function(req, res) {
  cars <- req$body
  if (!is.data.frame(cars) || !all(c("wt", "hp", "cyl") %in% names(cars))) {
    res$status <- 400
    return(list(error = "send a JSON array of cars with wt, hp and cyl"))
  }
  cars$mpg <- unname(predict(model, as_newdata(cars$wt, cars$hp, cars$cyl)))
  cars
}
