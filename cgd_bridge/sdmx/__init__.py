"""The SDMX wing: every SDMX format cgd-bridge reads or writes, in the spirit of sdmx1's
format/reader/writer split.

==================================  ============================================================
module                              owns
==================================  ============================================================
``sdmx/formats.py``                 the one format table: kind, media types and versions,
                                    aliases, writer, reader and traits of every representation;
                                    the CLI, the pipeline and the server's negotiation read it
``sdmx/target.py``                  :class:`~cgd_bridge.sdmx.target.Target`, what a data writer
                                    is told about the dataflow
``sdmx/refs.py``                    :class:`~cgd_bridge.sdmx.refs.FlowRef` and the one parser of
                                    ``AGENCY:ID(VERSION)`` / ``AGENCY,ID,VERSION`` references
``sdmx/names.py``                   names of codes, concepts and the dataflow for the formats
                                    that print them (``named_target``)
``sdmx/maps.py``                    what structure-map writers and readers share
``sdmx/write/``                     data writers (``sdmx_csv``, ``sdmx_ml``, ``sdmx_json``, their
                                    shared ``_text``), reference metadata (``refmeta``), DSD
                                    schemas (``xsd``), constraint messages (``constraints``), SDMX
                                    error messages (``errors``), structure messages in SDMX 3.0
                                    forms (``structures``), structure maps (``maps``,
                                    ``maps21``); :func:`cgd_bridge.sdmx.write.write` dispatches
``sdmx/read/``                      official series (``data``), mappings from SDMX maps
                                    (``maps``, with ``import_mapping``) and open-sdg CSVs
                                    (``opensdg``)
==================================  ============================================================

``formats`` holds facts only; ``write`` and ``read`` import it and never each other. The REST
layer (query parsing, negotiation over the format table, the service) stays in
``cgd_bridge/server/sdmx/``.
"""
