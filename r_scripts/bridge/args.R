# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- which predict() arguments a caller may pass ---------------------------
#
# A request's "args" are data. Many predict methods turn a string argument
# into a function (predict.lm's na.action = "system2" runs a shell command),
# so the caller may pass only the named formals of the method that will
# actually run, minus the ones R uses as code. Worked out once per model at
# load, from the method itself; the Python side checks every request
# against it before anything reaches R.

# Formals R treats as functions, formulas or environments whatever their
# default looks like.
.code_arg_names <- c("na.action", "FUN", "fun", "f", "family", "formula", "contrasts",
                     "envir", "env", "environment", "enclos", "method.args", "callback",
                     "subset", "xlev", "control",
                     # lme4's random-effects formula
                     "re.form", "ReForm", "REForm", "REform")

# Formals the bridge fills itself: a caller may not replace the data.
.reserved_arg_names <- c("object", "newdata", "new_data", "data", "newx", "x", "model", "...")

# The predict method R will dispatch to for this model: S3 (the class
# vector, then for S4 objects their superclasses), else an S4 method.
bridge_predict_method <- function(model) {
  classes <- unique(c(class(model), if (isS4(model)) methods::is(model)))
  for (cls in classes) {
    m <- utils::getS3method("predict", cls, optional = TRUE)
    if (!is.null(m)) return(list(fn = m, name = paste0("predict.", cls)))
  }
  if (isS4(model)) {
    for (pkg in c(attr(class(model), "package"), loadedNamespaces())) {
      ns <- tryCatch(asNamespace(pkg), error = function(e) NULL)
      if (is.null(ns) || !exists("predict", envir = ns, inherits = FALSE)) next
      generic <- get("predict", envir = ns)
      if (!methods::is(generic, "standardGeneric")) next
      m <- methods::selectMethod(generic, class(model), optional = TRUE)
      if (!is.null(m)) {
        return(list(fn = .s4_local(m), name = paste0("predict,", class(model)[1], " (", pkg, ")")))
      }
    }
  }
  NULL
}

# An S4 method with more formals than its generic keeps them in `.local`.
.s4_local <- function(m) {
  b <- body(m)
  if (is.call(b) && identical(b[[1]], as.name("{")) && length(b) >= 2) {
    first <- b[[2]]
    if (is.call(first) && identical(first[[1]], as.name("<-")) &&
        identical(first[[2]], as.name(".local"))) {
      return(eval(first[[3]], environment(m)))
    }
  }
  m
}

# One formal: "data" (a caller may pass it, typed by its default) or the
# reason it is refused.
.arg_entry <- function(name, default, env) {
  entry <- list(name = name, accepted = TRUE, type = "any", choices = character(0), reason = "")
  refuse <- function(reason) {
    entry$accepted <- FALSE
    entry$reason <- reason
    entry
  }
  if (name %in% .reserved_arg_names) return(refuse("set by the bridge"))
  if (name %in% .code_arg_names) return(refuse("R uses its value as a function or formula"))
  if (missing(default) || identical(default, quote(expr = ))) return(entry)
  if (is.function(default)) return(refuse("its default is a function"))
  if (is.name(default)) {
    target <- tryCatch(get(as.character(default), envir = env), error = function(e) NULL)
    if (is.function(target)) return(refuse("its default is a function"))
    return(entry)
  }
  if (is.call(default)) {
    head <- default[[1]]
    if (identical(head, as.name("function")) || identical(head, as.name("~"))) {
      return(refuse("its default is a function or formula"))
    }
    if (identical(head, as.name("c")) && length(default) > 1 &&
        all(vapply(as.list(default)[-1], is.character, TRUE))) {
      entry$type <- "string"
      entry$choices <- unlist(as.list(default)[-1])
      return(entry)
    }
    if (is.name(head) && as.character(head) %in% c("match.fun", "get", "eval", "parse", "as.formula",
                                                   "formula", "quote", "expression", "substitute")) {
      return(refuse("its default is code"))
    }
    return(entry)
  }
  if (is.logical(default) && length(default) == 1 && !is.na(default)) entry$type <- "boolean"
  else if (is.numeric(default) && length(default) == 1) entry$type <- "number"
  else if (is.character(default) && length(default) == 1) entry$type <- "string"
  entry
}

# The caller's allow-list for a model: list(method, args = list of entries)
# where each entry is list(name, accepted, type, choices, reason).
# `fn` replaces the dispatched method (a sidecar's predict_fn: its first two
# formals are the model and newdata); `extra` names formals a sidecar allows
# through `...` (allow_args).
bridge_arg_spec <- function(model, fn = NULL, extra = character(0)) {
  if (is.null(fn)) {
    found <- bridge_predict_method(model)
    if (is.null(found)) return(list(method = "", args = list()))
    fn <- found$fn
    method <- found$name
    skip <- 1L
  } else {
    method <- "predict_fn"
    skip <- 2L
  }
  fmls <- formals(fn)
  fmls <- fmls[-seq_len(min(skip, length(fmls)))]
  env <- environment(fn)
  if (is.null(env)) env <- baseenv()
  entries <- lapply(names(fmls), function(n) {
    if (identical(fmls[[n]], quote(expr = ))) return(.arg_entry(n, env = env))
    .arg_entry(n, fmls[[n]], env)
  })
  # `...` handed on to an inner S3 method the bridge can resolve for this
  # model (partykit's predict.party -> predict_party.constparty): that
  # method's named formals are the caller's too, under the same rules.
  if ("..." %in% names(fmls)) {
    for (inner in .inner_methods(fn, model)) {
      ifmls <- formals(inner$fn)
      ienv <- environment(inner$fn)
      if (is.null(ienv)) ienv <- baseenv()
      # formals the outer method fills itself, by position or by name
      passed <- as.list(inner$call)[-1]
      named <- names(passed)
      if (is.null(named)) named <- rep("", length(passed))
      dots <- logical(length(passed))
      for (i in seq_along(passed)) dots[i] <- identical(passed[[i]], quote(...))
      positional <- sum(named == "" & !dots)
      taken <- c(names(ifmls)[seq_len(min(positional, length(ifmls)))], named[named != ""])
      for (n in setdiff(names(ifmls), c(taken, names(fmls), vapply(entries, `[[`, "", "name")))) {
        entry <- if (identical(ifmls[[n]], quote(expr = ))) .arg_entry(n, env = ienv)
                 else .arg_entry(n, ifmls[[n]], ienv)
        entries[[length(entries) + 1]] <- entry
      }
    }
  }
  for (n in setdiff(extra, names(fmls))) {
    entry <- .arg_entry(n, env = env)
    entries[[length(entries) + 1]] <- entry
  }
  list(method = method, args = entries)
}

# The same spec as flat vectors, for the Python side to read in one go.
# `predictor` is what bridge_predictor()/bridge_custom_predictor() returned;
# a sidecar's predictor carries its predict_fn as an attribute.
bridge_arg_table <- function(model, predictor, extra = character(0)) {
  fn <- attr(predictor, "predict_fn")
  if (is.null(fn)) extra <- union(extra, bridge_data_adapter(model)$args)
  spec <- bridge_arg_spec(model, fn, extra)
  pick <- function(field, type) vapply(spec$args, function(e) e[[field]], type)
  list(method = spec$method,
       name = pick("name", ""), accepted = pick("accepted", TRUE),
       type = pick("type", ""), reason = pick("reason", ""),
       choices = lapply(spec$args, function(e) as.character(e$choices)))
}

# S3 methods that `fn` hands its `...` to, resolved for the model's class:
# calls in fn's body that pass `...` to a generic (a function calling
# UseMethod) with a method for the model. One level deep.
.inner_methods <- function(fn, model) {
  found <- list()
  env <- environment(fn)
  if (is.null(env)) return(found)
  walk <- function(e) {
    if (!is.call(e)) return(invisible())
    head <- e[[1]]
    parts <- as.list(e)
    dots <- FALSE
    for (i in seq_along(parts)[-1]) if (identical(parts[[i]], quote(...))) dots <- TRUE
    if (is.name(head) && dots) {
      g <- tryCatch(get(as.character(head), envir = env, mode = "function"), error = function(e) NULL)
      if (!is.null(g) && .is_s3_generic(g)) {
        # predict(object$glmnet.fit, newx, ...): dispatched on that component.
        target <- model
        first <- if (length(parts) >= 2) parts[[2]] else NULL
        if (is.call(first) && identical(first[[1]], as.name("$")) && is.list(model) &&
            is.name(first[[3]]) && !is.null(.subset2(model, as.character(first[[3]])))) {
          target <- .subset2(model, as.character(first[[3]]))
        }
        for (cls in class(target)) {
          m <- utils::getS3method(as.character(head), cls, optional = TRUE, envir = env)
          if (!is.null(m)) {
            found[[length(found) + 1]] <<- list(fn = m, call = e)
            break
          }
        }
      }
    }
    for (i in seq_along(parts)) if (is.call(parts[[i]])) walk(parts[[i]])
  }
  # A body this walk cannot follow leaves the list as the method's own formals.
  tryCatch(walk(body(fn)), error = function(e) NULL)
  found
}

.is_s3_generic <- function(f) {
  b <- body(f)
  calls_usemethod <- function(e) {
    if (!is.call(e)) return(FALSE)
    if (identical(e[[1]], as.name("UseMethod"))) return(TRUE)
    any(vapply(as.list(e), calls_usemethod, TRUE))
  }
  is.function(f) && !is.primitive(f) && calls_usemethod(b)
}
