"""RTL of composed layers: adapters, buffers, weight ROMs and the layers that join them with the
families' cores (Amaranth components; the models are in :mod:`generators.compose.model`)."""
