"""The package's one event and log machinery.

- :mod:`.reader`: reading logs (:func:`~.reader.read_logs`, :func:`~.reader.read_batches`) and one
  contract's events (:class:`~.reader.ContractEvents`), in ranges that adapt to the node;
- :mod:`.sources`: where logs come from (py-evm's database in process, ``eth_getLogs`` elsewhere);
- :mod:`.ranges`: providers' refusals recognised by message, and the adaptive range size;
- :mod:`.topics`: topic filters;
- :mod:`.decoding`: raw logs and their decoding against every shipped artifact's ABI.
"""
