"""otshim_lib: the otshim command, Python 3 standard library only (plus binutils' readelf,
which `otshim doctor` reads binaries with). scripts/otshim is the entry point; it finds
this package next to itself in a checkout, or in $PREFIX/lib/otshim/ when installed,
and calls cli.main().

Modules, each importing only modules before it in this list:
    notes, fmt       stderr notes and the skipped-file list; number and byte formatting
    config           the variables the library reads, run's and doctor's options, where
                     the library is
    elf              readelf -> an ELF file's class, machine, interpreter, Go or not
    pprof            gzip + protobuf -> Profile (sample types, samples, labels)
    index            DIR/index.jsonl -> dicts; the --since/--path/--min-ms filters
    wall             a wall profile -> on/off CPU split, top waits; its flame samples
    analysis         one index line + its cpu, wall and heap files -> time split, top
                     waits, top functions, top sites
    table            the request table's columns and cells, shared by text and HTML
    report, flame    text and JSON; SVG flame graph (CPU, heap, threads, wall)
    html_report      report.html (table, per-request sections, inlined flame graphs)
    cmd_run, cmd_doctor, cmd_report, cmd_flame
                     the commands: options -> output and exit status
    cli              argparse: the command line -> one of the commands
"""
