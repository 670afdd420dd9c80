"""Models and training: `nn` (modules, MLPs), `losses`, `optim`, `train` (`fit`) and `data`."""
