"""The lab of edge AIGC service selection: the training loop (`train`), the ADSAC comparison
(`reproduce`, `pyalgo reproduce edge`) and the environment / collection benchmark (`bench`,
`pyalgo bench edge`)."""
