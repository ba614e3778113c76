def infer(packets): raise NotImplementedError
