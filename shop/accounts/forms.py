"""Account forms. Messages name the problem without telling whether an address has an account."""
from __future__ import annotations

from wtforms import BooleanField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from shop.forms import EMAIL, AddressFields, ShopForm, printable, strip
from shop.i18n import lazy_gettext as _l

from . import passwords


def email_field(label=_l("Email address")):
    return StringField(label, validators=[DataRequired(), Length(max=254)],
                       filters=[strip])


def check_email(form, field):
    if field.data and not EMAIL.fullmatch(field.data):
        raise ValidationError(_l("Please enter a valid email address."))


def new_password(label=_l("Password")):
    return PasswordField(label, validators=[DataRequired(), Length(max=passwords.MAX_LENGTH)])


class RegisterForm(ShopForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100), printable],
                       filters=[strip])
    email = email_field()
    password = new_password()

    validate_email = check_email

    def validate_password(self, field):
        if problem := passwords.problem(field.data or "", self.email.data or ""):
            raise ValidationError(problem)


class LoginForm(ShopForm):
    email = email_field()
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=passwords.MAX_LENGTH)])
    next = HiddenField()


class ResetRequestForm(ShopForm):
    email = email_field()
    validate_email = check_email


class ResetForm(ShopForm):
    password = new_password(_l("New password"))

    def validate_password(self, field):
        if problem := passwords.problem(field.data or ""):
            raise ValidationError(problem)


class PasswordChangeForm(ShopForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=passwords.MAX_LENGTH)])
    password = new_password(_l("New password"))

    def validate_password(self, field):
        if problem := passwords.problem(field.data or ""):
            raise ValidationError(problem)


class ProfileForm(ShopForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100), printable],
                       filters=[strip])
    language = SelectField(_l("Language"), choices=[SelectChoice("de", "Deutsch"), SelectChoice("en", "English")])


class EmailChangeForm(ShopForm):
    email = email_field(_l("New email address"))
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=passwords.MAX_LENGTH)])
    validate_email = check_email


class SavedAddressForm(AddressFields):
    default_billing = BooleanField(_l("Default billing address"))
    default_shipping = BooleanField(_l("Default delivery address"))


class CodeForm(ShopForm):
    """A code from the authenticator app, or a recovery code."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)], filters=[strip])


class PasswordAgainForm(ShopForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=passwords.MAX_LENGTH)])
