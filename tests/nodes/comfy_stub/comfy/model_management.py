"""The interrupt flag: ComfyUI's /interrupt sets it; progress updates and node starts raise it."""


class InterruptProcessingException(Exception):
    pass


_flag = {"interrupted": False}


def interrupt_current_processing(value: bool = True):
    _flag["interrupted"] = value


def throw_exception_if_processing_interrupted():
    if _flag["interrupted"]:
        _flag["interrupted"] = False
        raise InterruptProcessingException()
