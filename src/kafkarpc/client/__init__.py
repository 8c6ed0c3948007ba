"""The calling side: ``RpcClient``, its send pipeline, pending calls and the reply consumer."""
