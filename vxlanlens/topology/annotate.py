ANNOTATION_COLUMNS = ()
def annotate(p, t): raise NotImplementedError
