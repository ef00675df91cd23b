"""The flow reconstructor: from packets to the story of every key (sans-IO).

``observe`` turns dissected packets into observations; the ``Reconstructor``
takes observations in and gives key lifecycles, procedures and findings out.
Nothing in this package reads files, opens sockets, starts threads or imports
Textual (checked by tests/test_import_hygiene.py).
"""
