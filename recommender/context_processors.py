from .roles import is_shift_leader


def roles(request) -> dict:
    """Lets templates show shift-leader links; the views check the role again."""
    return {"user_is_shift_leader": is_shift_leader(request.user)}
