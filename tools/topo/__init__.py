"""topo - the program behind tools/dht-topo: start, inspect, break and stop
a ring of local dhtd processes described by a topology file, and play the
file's scenario.

Modules, one noun each (lower ones never import higher ones):
    errors     Exit, Interrupted, die(), trapped()
    settings   the environment: wait bounds, run root, binaries
    topology   the file, as `dht-viz --dump-topology` prints it
    state      the run directory: pid files, order, logs, records
    procs      processes by PID: alive, dhtd?, signals, spawn, ports
    ring       the `dht` CLI and reading its JSON answers
    clock      scenario time and whole-second bounds
    context    what one invocation works with
    node       one node: start, stop, kill/pause/resume/leave/join/restart
    launcher   the whole ring: up, down, status
    check      the scenario's `check`
    load       the scenario's load generators (child processes)
    events     node log lines -> timed events
    report     the per-step summary `run` prints
    scenario   `run`: play the steps, gather, report, stop
    cli        arguments, usage, exit statuses

Invariants of the whole: a process is only signalled by the PID the tool
recorded, and only while that PID still runs dhtd (or, for the load
generators, by the PID of the child it forked); every wait and every loop
is bounded; only loopback topologies are launched (the C parser takes any
address, for dht-viz; cli.py refuses to start a ring outside loopback).
Python 3 standard library only; behaviour, output and the run directory's
layout are those of the bash script it replaces.
"""
