"""Who sent it: the strict address reading of From/Sender and the receiving server's verdicts, believed
only where our own server wrote them."""
