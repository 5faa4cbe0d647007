"""Forms for the account settings page."""

from wtforms import BooleanField, HiddenField, PasswordField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from . import BaseForm
from .auth import (
    check_strength,
    display_name_field,
    email_field,
    new_password_field,
    time_zone_field,
)


def current_password_field(required=True, description="", **kwargs):
    validators = [Length(max=256)]
    if required:
        validators.insert(0, InputRequired("Please enter your current password."))
    return PasswordField(
        "Current password",
        validators=validators,
        description=description,
        render_kw={"autocomplete": "current-password"},
        **kwargs,
    )


class ProfileForm(BaseForm):
    email = email_field()
    display_name = display_name_field()
    time_zone = time_zone_field()
    current_password = current_password_field(
        required=False, description="Needed only when you change your email."
    )
    discreet = BooleanField(
        "Use a neutral name and icon",
        description=(
            "The browser tab and an installed app show “Notes” and a plain icon. "
            "A home-screen icon keeps the name it was installed with: reinstall it after "
            "changing this."
        ),
    )
    pause_alert = BooleanField(
        "A gentle vibration when the minimum pause has passed",
        description="On phones that allow it. Nothing sounds and nothing flashes.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_current_password(self, field):
        changing_email = (self.email.data or "").lower() != self.user.email_key
        if changing_email and not self.user.check_password(field.data or ""):
            raise ValidationError("To change your email, please enter your current password.")


class PasswordChangeForm(BaseForm):
    # Its own id: the profile form on the same page has a current_password too.
    current_password = current_password_field(id="password_current_password")
    new_password = new_password_field("New password")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_current_password(self, field):
        if not field.errors and not self.user.check_password(field.data):
            raise ValidationError("That is not your current password.")

    def validate_new_password(self, field):
        if not field.errors:
            check_strength(field.data, [self.user.email, self.user.display_name])


class ReminderForm(BaseForm):
    """Which reminders to email: each one only when chosen."""

    remind_reviews = BooleanField(
        "When it is time to revisit our agreements",
        description="One short email when a review becomes due.",
    )
    remind_answers = BooleanField(
        "When something waits for my answer",
        description="One short email when a partner proposes something or asks you for a change.",
    )
    #: The page to come back to (the offer sits on the dashboard).
    next = HiddenField(validators=[Length(max=500)])
    save = SubmitField("Save my choice")
    decline = SubmitField("No, thank you")


class DeleteAccountForm(BaseForm):
    """Deleting one's account takes the current password."""

    current_password = current_password_field(id="delete_current_password")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_current_password(self, field):
        if not field.errors and not self.user.check_password(field.data):
            raise ValidationError("That is not your current password.")
