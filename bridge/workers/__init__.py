"""R worker processes and their supervision.

The HTTP front never embeds R. It hands work to N R worker processes:

- `pool.py` owns the processes: starts them (spawned, never forked from a
  process holding R), loads the served model versions into each, kills one
  whose call passes its deadline or its memory limit, replaces the dead;
- `dispatcher.py` is the one queue of waiting work: a free worker takes the
  first job and every waiting job that can share its R call (a batch);
- `messages.py` holds the few typed messages that cross a worker's pipe;
- `worker.py` is the loop inside one R process;
- `remote.py` holds what the front sees: a served model that looks like a
  model but forwards its predictions to the pool.
"""
