from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "display_name", "language", "is_staff", "date_joined", "deleted_at")
    list_filter = (*BaseUserAdmin.list_filter, "deleted_at")
    # public_id is what RevenueCat and support see; search by it.
    search_fields = (*BaseUserAdmin.search_fields, "public_id")
    # Deletion is the player's act (DELETE /auth/me), which also revokes tokens and erases data:
    # setting deleted_at by hand here would do neither.
    readonly_fields = ("public_id", "deleted_at")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Profile", {"fields": ("public_id", "display_name", "language", "favourite_games", "deleted_at")}),
    )
