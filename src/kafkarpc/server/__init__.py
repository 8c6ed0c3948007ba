"""The answering side: ``RpcServer``, request intake, deciding outcomes, and delivering replies."""
