"""The edge: everything that touches processes, the network, the disk and Docker lives here."""
