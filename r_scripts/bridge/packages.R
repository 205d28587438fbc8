# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- which package provides predict() ----------------------------------------

# Read once from the NAMESPACE files of every installed package, so a model's
# packages are found without the user naming them:
#   s3       class -> package registering an S3 predict method for it;
#   s4       packages exporting S4 methods for predict;
#   exports  package -> the names it exports (for functions a formula calls);
#   order    packages by priority: base, then recommended, then the rest.
.bridge_package_index <- NULL

bridge_package_index <- function() {
  if (!is.null(.bridge_package_index)) return(.bridge_package_index)
  installed <- utils::installed.packages(lib.loc = .libPaths(), noCache = TRUE)
  installed <- installed[!duplicated(installed[, "Package"]), , drop = FALSE]
  rank <- match(installed[, "Priority"], c("base", "recommended"), nomatch = 3L)
  pkgs <- installed[order(rank, installed[, "Package"]), "Package"]
  s3 <- character(0)
  s4 <- character(0)
  exports <- list()
  for (pkg in pkgs) {
    ns <- tryCatch(parseNamespaceFile(pkg, dirname(system.file(package = pkg))),
                   error = function(e) NULL)
    if (is.null(ns)) next
    exports[[pkg]] <- list(names = ns$exports, patterns = ns$exportPatterns)
    methods <- ns$S3methods
    if (!is.null(methods) && nrow(methods)) {
      for (cls in methods[methods[, 1] == "predict", 2]) if (is.na(s3[cls])) s3[cls] <- pkg
    }
    if ("predict" %in% ns$exportMethods) s4 <- c(s4, pkg)
  }
  index <- list(s3 = s3, s4 = s4, exports = exports, order = unname(pkgs))
  .bridge_package_index <<- index
  index
}

# Kept for callers of the earlier name: class -> package of its S3 predict.
bridge_predict_index <- function() bridge_package_index()$s3

# Classes a value is "only data" as: a package registering predict() for one
# of them (predict.list, say) does not make a data set a model.
.data_classes <- c("data.frame", "list", "matrix", "array", "numeric", "integer", "double",
                   "character", "logical", "complex", "raw", "factor", "ordered", "table",
                   "Date", "POSIXct", "POSIXlt", "POSIXt", "difftime", "function",
                   "environment", "formula", "call", "name", "default", "AsIs")

# The classes R dispatches predict() on for this object, most specific first:
# the class attribute of an S3 object; an S4 object's class and every class it
# extends (its package loaded first, so the class definitions are known).
bridge_dispatch_classes <- function(model) {
  if (isS4(model)) {
    pkg <- attr(class(model), "package")
    if (.is_package(pkg)) .load(pkg)
    classes <- methods::is(model)
  } else {
    classes <- attr(model, "class", exact = TRUE)
  }
  setdiff(as.character(classes), .data_classes)
}

# Where predict() for this model comes from: list(package, generic, s4).
# S4 methods are reached only through the S4 generic of the package that
# defines them (stats::predict would not see them unless it is attached);
# S3 methods through stats::predict, once their package's namespace is loaded.
# NULL when no predict method exists: then the object is not a model.
bridge_predict_source <- function(model) {
  classes <- bridge_dispatch_classes(model)
  if (!length(classes)) return(NULL)
  index <- bridge_package_index()
  if (isS4(model)) {
    own <- attr(class(model), "package")
    for (pkg in unique(c(own[own %in% index$s4], index$s4, "methods"))) {
      generic <- .s4_generic(pkg)
      if (is.null(generic)) next
      for (cls in classes) {
        if (methods::existsMethod(generic, cls)) {
          return(list(package = pkg, generic = generic, s4 = TRUE))
        }
      }
    }
  }
  for (cls in classes) {
    pkg <- unname(index$s3[cls])
    if (!is.na(pkg)) .load(pkg)
    if (!is.null(utils::getS3method("predict", cls, optional = TRUE))) {
      if (is.na(pkg)) pkg <- .s3_method_package(cls)
      return(list(package = pkg, generic = stats::predict, s4 = FALSE))
    }
  }
  NULL
}

.s4_generic <- function(pkg) {
  if (identical(pkg, "methods")) {
    # A predict generic made where the model was defined (setGeneric at top level).
    generic <- get0("predict", envir = globalenv())
    return(if (methods::is(generic, "genericFunction")) generic else NULL)
  }
  ns <- tryCatch(.load(pkg), error = function(e) NULL)
  if (is.null(ns)) return(NULL)
  generic <- get0("predict", envir = ns, inherits = FALSE)
  if (methods::is(generic, "genericFunction")) generic else NULL
}

.s3_method_package <- function(cls) {
  fn <- utils::getS3method("predict", cls, optional = TRUE)
  name <- environmentName(environment(fn))
  if (nzchar(name) && name != "R_GlobalEnv") name else NA_character_
}

.load <- function(pkg) suppressPackageStartupMessages(loadNamespace(pkg))

# An installed package (a class defined at top level says ".GlobalEnv").
.is_package <- function(pkg) length(pkg) == 1 && !is.na(pkg) && nzchar(system.file(package = pkg))

bridge_has_predict <- function(model) !is.null(bridge_predict_source(model))

# The packages a model needs for predict(), in load order: the one whose
# method predict() dispatches to, those of the classes it inherits from,
# and the ones exporting functions its formulas call (splines::ns,
# survival::strata), which must be attached for model.frame() to find them.
bridge_model_packages <- function(model) {
  index <- bridge_package_index()
  classes <- bridge_dispatch_classes(model)
  pkgs <- unname(index$s3[classes])
  if (isS4(model)) pkgs <- c(attr(class(model), "package"), pkgs)
  source <- bridge_predict_source(model)
  if (!is.null(source)) pkgs <- c(source$package, pkgs)
  if (inherits(model, "train")) {
    # caret calls the fitting package's own predict through modelInfo.
    pkgs <- c(pkgs, model$modelInfo$library)
  }
  pkgs <- Filter(.is_package, pkgs)
  unique(setdiff(c(pkgs, bridge_formula_packages(model, pkgs)), c("base", "stats", "methods")))
}

# Packages to attach: those providing functions a formula of the model calls
# that R would not find from the formula's environment.
bridge_formula_packages <- function(model, prefer = character(0)) {
  fns <- unique(unlist(lapply(.model_formulas(model), .called_functions)))
  out <- character(0)
  env <- .formula_env(model)
  for (fn in fns) {
    if (.found_without_packages(fn, env)) next
    pkg <- .exporting_package(fn, prefer)
    if (!is.na(pkg)) out <- c(out, pkg)
  }
  unique(out)
}

bridge_load_packages <- function(pkgs) {
  for (pkg in pkgs) .load(pkg)
  invisible(pkgs)
}

# Loads what a model needs and returns the package names. Nothing is
# attached to the search path: the packages of a model's formulas' functions
# are found through the model's own scope (bridge_scoped_model), so one
# model's packages never change what another model's formula finds.
bridge_load_model <- function(model) {
  pkgs <- bridge_model_packages(model)
  bridge_load_packages(pkgs)
  pkgs
}

# ---- each model's own search path --------------------------------------------
#
# model.frame() evaluates a formula's calls (s(x), ns(x, 3), strata(g)) in
# the formula's environment, usually the global one, which sees the search
# path: with Hastie's gam and mgcv both attached, s() is whichever came
# last. Instead each model gets a private stand-in for the global
# environment, as each Plumber file does (plumber_host.R), whose parents are
# the exports of the packages its formulas call, then the global environment:
#   formula env -> home -> [the model's formula packages, its own first] -> global
# and every formula inside the model that named the global environment names
# `home` instead. A formula made in a function keeps its own environment;
# the outermost one of those, whose parent is the global environment, gets
# the chain as its parent. Returns the model, rebound.
bridge_scoped_model <- function(model) {
  pkgs <- bridge_formula_packages(model, bridge_model_packages(model))
  if (!length(pkgs)) return(model)
  chain <- globalenv()
  for (pkg in rev(pkgs)) chain <- .exports_env(pkg, chain)
  home <- new.env(parent = chain)
  attr(home, "name") <- "bridge:model"
  .rebind(model, home, chain, 0L)
}

# A package's exports as an environment with the given parent, as library()
# would attach them (lazy data left unread until used).
.exports_env <- function(pkg, parent) {
  ns <- .load(pkg)
  env <- new.env(parent = parent)
  attr(env, "name") <- paste0("package:", pkg)
  exports <- getNamespaceExports(ns)
  importIntoEnv(env, exports, ns, exports)
  lazydata <- .getNamespaceInfo(ns, "lazydata")
  for (name in names(lazydata)) {
    eval(bquote(delayedAssign(.(name), get(.(name), envir = lazydata, inherits = FALSE),
                              assign.env = env)))
  }
  env
}

# Formulas (and terms) within a model, S3 components, S4 slots and
# attributes alike, bounded like .frames_inside, pointed at `home`.
.rebind <- function(x, home, chain, depth) {
  if (depth > 6L) return(x)
  if (inherits(x, "formula")) {
    env <- environment(x)
    if (identical(env, globalenv())) {
      environment(x) <- home
    } else if (is.environment(env)) {
      .reparent(env, chain)
    }
    return(x)
  }
  if (isS4(x)) {
    for (n in methods::slotNames(x)) {
      part <- methods::slot(x, n)
      if (.may_hold_formula(part)) methods::slot(x, n, check = FALSE) <- .rebind(part, home, chain, depth + 1L)
    }
    return(x)
  }
  if (is.list(x) && length(unclass(x)) <= 256L) {
    # unclass: some classes redefine length() and [[<- (partykit's party).
    cls <- oldClass(x)
    plain <- unclass(x)
    for (i in seq_along(plain)) {
      part <- plain[[i]]
      if (.may_hold_formula(part)) {
        part <- .rebind(part, home, chain, depth + 1L)
        if (is.null(part)) plain[i] <- list(NULL) else plain[[i]] <- part
      }
    }
    oldClass(plain) <- cls
    x <- plain
  }
  tt <- attr(x, "terms", exact = TRUE)
  if (inherits(tt, "formula")) attr(x, "terms") <- .rebind(tt, home, chain, depth + 1L)
  x
}

.may_hold_formula <- function(x) {
  inherits(x, "formula") || isS4(x) || (is.list(x) && length(unclass(x)) > 0L) ||
    inherits(attr(x, "terms", exact = TRUE), "formula")
}

# The outermost environment of a formula made in a function (its parent the
# global environment) gets the model's package chain as its parent instead.
.reparent <- function(env, chain) {
  for (i in seq_len(50L)) {
    if (identical(env, emptyenv()) || isNamespace(env) || environmentName(env) != "") return()
    up <- parent.env(env)
    if (identical(up, chain)) return()
    if (identical(up, globalenv())) {
      parent.env(env) <- chain
      return()
    }
    env <- up
  }
}

# Every formula-like thing a model holds: its terms (with predvars), its
# formula, and formulas in its call (random = ~ 1 | g, offset = log(x)).
.model_formulas <- function(model) {
  out <- list()
  tt <- .model_terms(model)
  if (!is.null(tt)) out <- c(out, list(tt), list(attr(tt, "predvars")))
  f <- tryCatch(stats::formula(model), error = function(e) NULL)
  if (!is.null(f)) out <- c(out, list(f))
  call <- .model_call(model)
  if (is.call(call)) {
    for (part in c("formula", "random", "offset", "fixed", "scale", "nominal")) {
      if (!is.null(call[[part]]) && is.language(call[[part]])) out <- c(out, list(call[[part]]))
    }
  }
  Filter(Negate(is.null), out)
}

.model_terms <- function(model) {
  if (isS4(model)) {
    if ("terms" %in% methods::slotNames(model)) {
      tt <- methods::slot(model, "terms")
      if (inherits(tt, "terms")) return(tt)
    }
  }
  tt <- tryCatch(stats::terms(model), error = function(e) NULL)
  if (inherits(tt, "terms")) tt else NULL
}

.model_call <- function(model) {
  if (isS4(model)) {
    for (slot in c("call", "kcall")) {
      if (slot %in% methods::slotNames(model)) return(methods::slot(model, slot))
    }
    return(NULL)
  }
  if (is.list(model) && is.call(model$call)) model$call else NULL
}

# A function a formula calls that R finds without any package beyond those
# every R session attaches: defined in the formula's own environment (one
# made in a function) or exported by base, stats, utils, methods, graphics
# or grDevices. The search path beyond those is not looked at: it is shared
# with every other model.
.found_without_packages <- function(fn, env) {
  while (is.environment(env) && !identical(env, globalenv()) && !identical(env, emptyenv())) {
    if (exists(fn, envir = env, mode = "function", inherits = FALSE)) return(TRUE)
    env <- parent.env(env)
  }
  for (pkg in c("base", "stats", "utils", "methods", "graphics", "grDevices")) {
    if (exists(fn, envir = asNamespace(pkg), mode = "function", inherits = FALSE) &&
        fn %in% c(getNamespaceExports(pkg), if (pkg == "base") ls(baseenv(), all.names = TRUE))) {
      return(TRUE)
    }
  }
  FALSE
}

.formula_env <- function(model) {
  tt <- .model_terms(model)
  env <- if (!is.null(tt)) environment(tt) else NULL
  if (is.environment(env)) env else globalenv()
}

# Names in function position of an expression: ns in ns(x, df = 3).
.called_functions <- function(expr) {
  if (!is.call(expr)) return(character(0))
  head <- expr[[1]]
  own <- if (is.name(head)) as.character(head) else character(0)
  # pkg::fn needs no attaching.
  if (is.call(head) && identical(head[[1]], as.name("::"))) own <- character(0)
  c(own, unlist(lapply(as.list(expr)[-1], .called_functions)))
}

.exporting_package <- function(fn, prefer) {
  index <- bridge_package_index()
  for (pkg in unique(c(prefer, index$order))) {
    ex <- index$exports[[pkg]]
    if (is.null(ex)) next
    if (fn %in% ex$names || any(vapply(ex$patterns, grepl, TRUE, x = fn))) return(pkg)
  }
  NA_character_
}
