"""Tools on top of the engine: `viz` (draw_graph), `gradcheck` (check_grad), `cost`, the expression
language (`expr`) and the command line (`cli`)."""
