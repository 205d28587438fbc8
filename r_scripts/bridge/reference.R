# Part of the R side of R Bridge (sourced into each R worker, bridge/r/session.py).

# ---- the training data a model keeps, for its reference summary -----------------

# The values of each input the model was fitted on, where the object keeps
# them (lm/glm's model frame, caret's trainingData, a `data`/`frame` part):
# a named list, one vector per input found, numbers as doubles (Date and
# POSIXct as days / seconds, as the front holds them), everything else as
# character labels. At most `max_rows` values each (evenly spaced rows, no
# random numbers drawn). Inputs found nowhere are left out; NULL: none found.
bridge_reference_columns <- function(model, vars, max_rows = 100000L) {
  frames <- .model_frames(model)
  out <- list()
  for (v in vars) {
    for (fr in frames) {
      if (!(v %in% names(fr))) next
      x <- fr[[v]]
      if (is.matrix(x) || is.list(x)) next
      n <- length(x)
      if (n > max_rows) x <- x[unique(round(seq(1, n, length.out = max_rows)))]
      out[[v]] <- .reference_values(x)
      break
    }
  }
  if (!length(out)) return(NULL)
  out
}

.reference_values <- function(x) {
  if (is.factor(x) || is.character(x)) return(as.character(x))
  if (is.logical(x)) return(ifelse(is.na(x), NA_character_, ifelse(x, "TRUE", "FALSE")))
  if (inherits(x, c("Date", "POSIXct")) || is.numeric(x)) return(as.double(unclass(x)))
  as.character(x)
}
